#pragma once
// A model's state as named arrays, for checkpoints: what a model writes with put() it reads back
// with get() when a run resumes. Only state that is not a function of the parameters and the
// seed needs saving (a model is rebuilt from its parameters first, then restored).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace sim {

class State {
 public:
  enum class Type : std::uint8_t { F64, I64, U64, I32, U32, U8 };

  struct Entry {
    Type type;
    std::size_t count;
    std::vector<std::byte> bytes;
  };

  template <class T>
  void put(const std::string& name, std::span<const T> values) {
    Entry e{type_of<T>(), values.size(), std::vector<std::byte>(values.size_bytes())};
    if (!values.empty()) std::memcpy(e.bytes.data(), values.data(), values.size_bytes());
    entries_[name] = std::move(e);
  }
  template <class T>
  void put(const std::string& name, const std::vector<T>& values) {
    put(name, std::span<const T>(values));
  }
  template <class T>
    requires std::is_arithmetic_v<T>
  void put(const std::string& name, T value) {
    put(name, std::span<const T>(&value, 1));
  }

  // Reads `name` into `out`, which must already have the saved size (models know their sizes
  // from their parameters); std::runtime_error names the entry when it is missing or differs.
  template <class T>
  void get(const std::string& name, std::span<T> out) const {
    const Entry& e = entry(name);
    if (e.type != type_of<T>() || e.count != out.size())
      throw std::runtime_error("checkpoint entry '" + name + "' has " + std::to_string(e.count) +
                               " values of another type or count than the model expects (" +
                               std::to_string(out.size()) + ")");
    if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), out.size_bytes());
  }
  template <class T>
  void get(const std::string& name, std::vector<T>& out) const {
    get(name, std::span<T>(out));
  }
  template <class T>
    requires std::is_arithmetic_v<T>
  T get(const std::string& name) const {
    T value{};
    get(name, std::span<T>(&value, 1));
    return value;
  }

  // Bytes per value of a type.
  static constexpr std::size_t size_of(Type type) {
    switch (type) {
      case Type::F64:
      case Type::I64:
      case Type::U64: return 8;
      case Type::I32:
      case Type::U32: return 4;
      case Type::U8: return 1;
    }
    return 1;
  }

  const std::map<std::string, Entry>& entries() const { return entries_; }
  void put_entry(const std::string& name, Entry entry) { entries_[name] = std::move(entry); }

 private:
  template <class T>
  static constexpr Type type_of() {
    if constexpr (std::is_same_v<T, double>) return Type::F64;
    else if constexpr (std::is_same_v<T, std::int64_t>) return Type::I64;
    else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::size_t>) return Type::U64;
    else if constexpr (std::is_same_v<T, std::int32_t>) return Type::I32;
    else if constexpr (std::is_same_v<T, std::uint32_t>) return Type::U32;
    else if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, bool>) return Type::U8;
    else static_assert(sizeof(T) == 0, "State holds double, int64, uint64, int32, uint32 and uint8");
  }
  const Entry& entry(const std::string& name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw std::runtime_error("checkpoint has no entry '" + name + "'");
    return it->second;
  }

  std::map<std::string, Entry> entries_;
};

}  // namespace sim
