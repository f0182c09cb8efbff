#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "sim/parallel.hpp"
#include "sim/permutation.hpp"

namespace {
enum class TestStream : std::uint64_t { Perm = 910 };

std::vector<std::uint32_t> permutation(std::size_t n, std::uint64_t step, int threads) {
  sim::set_threads(threads);
  std::vector<std::uint32_t> out(n);
  sim::Permuter permuter;
  permuter.permute(3, TestStream::Perm, step, out);
  return out;
}
}  // namespace

TEST_CASE("a permutation holds every index exactly once", "[parallel]") {
  for (std::size_t n : {1u, 2u, 3u, 5000u, 300001u}) {
    auto p = permutation(n, 1, 2);
    std::sort(p.begin(), p.end());
    std::vector<std::uint32_t> identity(n);
    std::iota(identity.begin(), identity.end(), 0u);
    CHECK(p == identity);
  }
}

TEST_CASE("a permutation is the same on 1, 2 and 4 threads", "[parallel][determinism]") {
  const auto one = permutation(300001, 5, 1);
  CHECK(permutation(300001, 5, 2) == one);
  CHECK(permutation(300001, 5, 4) == one);
  CHECK(permutation(300001, 6, 2) != one);
}

TEST_CASE("a permutation in two halves is permute()'s, with each bucket handed over once", "[parallel][determinism]") {
  // 300001 elements: 16 buckets (whose sizes are odd and even, so pairs straddle boundaries).
  constexpr std::size_t n = 300001;
  for (int threads : {1, 2, 4}) {
    INFO(threads << " threads");
    sim::set_threads(threads);
    std::vector<std::uint32_t> out(n);
    sim::Permuter permuter;
    permuter.sort_into_buckets(3, TestStream::Perm, 5, out);
    const auto begin = permuter.bucket_begin();
    REQUIRE(begin.size() == sim::Permuter::bucket_count(n) + 1);
    CHECK(begin.size() == 17);
    CHECK(begin.front() == 0);
    CHECK(begin.back() == n);
    // Written per bucket from the worker threads (Catch's checks come afterwards: they are not
    // thread-safe); a bucket handed over twice would show as a count of 2.
    std::vector<int> handed(sim::Permuter::bucket_count(n), 0);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> range(handed.size());
    std::vector<std::vector<std::uint32_t>> seen(handed.size());
    permuter.shuffle_buckets(3, TestStream::Perm, 5, out, [&](std::size_t bucket, std::uint32_t first, std::uint32_t end) {
      ++handed[bucket];
      range[bucket] = {first, end};
      seen[bucket].assign(out.begin() + first, out.begin() + end);  // already shuffled
    });
    CHECK(out == permutation(n, 5, 1));
    for (std::size_t k = 0; k < handed.size(); ++k) {
      CHECK(handed[k] == 1);
      CHECK(range[k] == std::make_pair(begin[k], begin[k + 1]));
      CHECK(std::equal(seen[k].begin(), seen[k].end(), out.begin() + begin[k]));
    }
  }
}

TEST_CASE("a permutation is uniform: each element lands in each position equally often", "[parallel]") {
  // n = 6 over 60000 steps: position counts of element 0 and position-of-pair statistics.
  // Each of the 6 positions expects 10000; chi-square with 5 degrees of freedom, 0.999 quantile 20.5.
  constexpr std::size_t n = 6;
  constexpr int trials = 60000;
  std::vector<int> where(n, 0);
  sim::Permuter permuter;
  std::vector<std::uint32_t> out(n);
  for (int t = 0; t < trials; ++t) {
    permuter.permute(17, TestStream::Perm, static_cast<std::uint64_t>(t), out);
    ++where[std::find(out.begin(), out.end(), 0u) - out.begin()];
  }
  double chi2 = 0.0;
  for (int c : where) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  CHECK(chi2 < 20.5);
}

TEST_CASE("a large permutation spreads elements across buckets uniformly", "[parallel]") {
  // With n = 100000 many buckets are used; the mean position of the first 1000 elements must be
  // near n/2 (sd of the mean: n / sqrt(12 * 1000) ~ 913; 5 sd allowed).
  const auto p = permutation(100000, 9, 2);
  std::vector<std::size_t> position(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) position[p[i]] = i;
  double mean = 0.0;
  for (std::size_t e = 0; e < 1000; ++e) mean += static_cast<double>(position[e]);
  mean /= 1000.0;
  CHECK(std::abs(mean - 50000.0) < 5 * 913.0);
}

TEST_CASE("block sums are bitwise identical on any thread count", "[parallel][determinism]") {
  std::vector<double> x(1000003);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0 / (1.0 + static_cast<double>(i % 977)) * (i % 3 ? 1e8 : 1e-8);
  auto total = [&](int threads) {
    sim::set_threads(threads);
    return sim::sum(x.size(), [&](std::size_t i) { return x[i]; });
  };
  const double one = total(1);
  CHECK(total(2) == one);
  CHECK(total(4) == one);
  CHECK(total(3) == one);
}

TEST_CASE("an exception in a parallel loop reaches the caller: the lowest block's", "[parallel]") {
  sim::set_threads(4);
  try {
    sim::for_blocks(100000, [](std::size_t, std::size_t, std::size_t block) {
      if (block >= 3) throw std::runtime_error("block " + std::to_string(block));
    });
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "block 3");
  }
}

TEST_CASE("select_indices lists the kept indices in order, the same on any thread count", "[parallel][determinism]") {
  for (const std::size_t n : {std::size_t{0}, std::size_t{100}, std::size_t{100003}}) {
    auto keep = [](std::size_t i) { return (i * 2654435761u) % 7 < 3; };
    std::vector<std::uint32_t> expected;
    for (std::size_t i = 0; i < n; ++i)
      if (keep(i)) expected.push_back(static_cast<std::uint32_t>(i));
    const int before = sim::max_threads();
    for (int threads : {1, 2, 4}) {
      sim::set_threads(threads);
      std::vector<std::uint32_t> out{42, 43};  // replaced, not appended to
      std::vector<std::vector<std::uint32_t>> scratch;
      sim::select_indices(n, keep, out, scratch);
      CHECK(out == expected);
      sim::select_indices(n, keep, out, scratch);  // scratch reused
      CHECK(out == expected);
    }
    sim::set_threads(before);
  }
}

TEST_CASE("group_indices is a stable counting sort, the same on any thread count", "[parallel][determinism]") {
  for (const std::size_t n : {std::size_t{0}, std::size_t{7}, std::size_t{300001}}) {
    for (const std::size_t keys : {std::size_t{1}, std::size_t{50}, std::size_t{20000}}) {
      INFO("n " << n << ", keys " << keys);
      // Keys from a hash, a quarter of the indices left out (key -1).
      auto key = [&](std::size_t i) -> std::int32_t {
        const std::uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
        return (h >> 62) == 0 ? -1 : static_cast<std::int32_t>((h >> 20) % keys);
      };
      std::vector<std::vector<std::uint32_t>> expected(keys);
      for (std::size_t i = 0; i < n; ++i)
        if (key(i) >= 0) expected[static_cast<std::size_t>(key(i))].push_back(static_cast<std::uint32_t>(i));
      for (int threads : {1, 2, 4}) {
        sim::set_threads(threads);
        std::vector<std::uint32_t> out(n, 0xFFFFFFFFu);
        std::vector<std::size_t> offsets;
        std::vector<std::uint32_t> counts;
        sim::group_indices(n, keys, key, out, offsets, counts);
        REQUIRE(offsets.size() == keys + 1);
        bool all_match = true;
        for (std::size_t k = 0; k < keys; ++k)
          all_match = all_match && std::equal(out.begin() + static_cast<std::ptrdiff_t>(offsets[k]),
                                              out.begin() + static_cast<std::ptrdiff_t>(offsets[k + 1]),
                                              expected[k].begin(), expected[k].end());
        CHECK(all_match);
      }
    }
  }
  sim::set_threads(2);
}
