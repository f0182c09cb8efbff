#pragma once
// Counter-based random numbers: randomness is addressed, not carried.
//
//   Rng rng{seed, Stream::Exchange, step, agent};
//   double u = rng.u01();
//
// Philox4x64-10 (Random123) keyed by (seed, stream purpose) with counter (step, index, draw).
// Every draw is a pure function of those, so results do not depend on which thread computes
// which agent, nor on the order agents are visited. Distributions are written on top of
// r123::u01 because the std:: distributions differ between standard libraries.
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>

namespace sim {

__extension__ using uint128 = unsigned __int128;  // GCC and Clang; Philox needs it too

// Purposes of random numbers are enums: each model declares its own `enum class Stream` with
// values in its own range (exchange 100-199, cpr 200-299, economy 300-399, ...) and lists them
// in its ModelSpec, where a test rejects duplicate values across all models.
class Rng {
 public:
  template <class Stream>
    requires std::is_enum_v<Stream>
  Rng(std::uint64_t seed, Stream stream, std::uint64_t step, std::uint64_t index)
      : key_{{seed, static_cast<std::uint64_t>(stream)}}, ctr_{{step, index, 0, 0}} {}

  // Raw 64 random bits.
  std::uint64_t bits() {
    if (next_ == 4) refill();
    return block_.v[next_++];
  }

  // Raw 32 random bits: the two halves of a 64-bit word, low half first.
  std::uint32_t bits32() {
    if (has_half_) {
      has_half_ = false;
      return half_;
    }
    const std::uint64_t word = bits();
    half_ = static_cast<std::uint32_t>(word >> 32);
    has_half_ = true;
    return static_cast<std::uint32_t>(word);
  }

  // Uniform integer in [0, n), 0 < n < 2^32, from 32-bit draws (Lemire's multiply-and-reject):
  // half the random bits of below(), for the shuffles of large permutations.
  std::uint32_t below32(std::uint32_t n) {
    std::uint64_t m = static_cast<std::uint64_t>(bits32()) * n;
    auto low = static_cast<std::uint32_t>(m);
    if (low < n) {
      const std::uint32_t threshold = (0u - n) % n;
      while (low < threshold) {
        m = static_cast<std::uint64_t>(bits32()) * n;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

  // Uniform in (0, 1]: never 0, so log(u01()) is finite.
  double u01() { return r123::u01<double>(bits()); }

  // Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * (1.0 - u01()); }

  // Uniform integer in [0, n), n > 0, without bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t n) {
    uint128 m = static_cast<uint128>(bits()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<uint128>(bits()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  bool bernoulli(double p) { return u01() <= p; }

  // Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log(u01()); }

  // Normal by Box-Muller (both halves computed, one used: draws stay addressable).
  double normal(double mean, double sd) {
    const double u1 = u01();
    const double u2 = u01();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  double lognormal(double mu, double sigma) { return std::exp(normal(mu, sigma)); }

  // Gamma(shape, scale) by Marsaglia and Tsang (2000); shape < 1 by the boost u^(1/shape).
  double gamma(double shape, double scale) {
    if (shape < 1.0) return gamma(shape + 1.0, scale) * std::pow(u01(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = normal(0.0, 1.0);
      double v = 1.0 + c * x;
      if (v <= 0.0) continue;
      v = v * v * v;
      const double u = u01();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * scale;
    }
  }

  // Beta(a, b) from two gammas.
  double beta(double a, double b) {
    const double x = gamma(a, 1.0);
    const double y = gamma(b, 1.0);
    return x / (x + y);
  }

 private:
  void refill() {
    block_ = r123::Philox4x64{}(ctr_, key_);
    ++ctr_.v[2];
    next_ = 0;
  }

  r123::Philox4x64::key_type key_;
  r123::Philox4x64::ctr_type ctr_;
  r123::Philox4x64::ctr_type block_{};
  int next_ = 4;
  std::uint32_t half_ = 0;
  bool has_half_ = false;
};

}  // namespace sim
