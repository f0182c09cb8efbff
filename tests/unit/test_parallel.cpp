#include <omp.h>

#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <numeric>
#include <utility>
#include <vector>

#include "sim/parallel.hpp"
#include "sim/permutation.hpp"
#include "sim/rng.hpp"

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
  const auto whole = permutation(n, 5, 1);
  for (int threads : {1, 2, 4}) {
    INFO(threads << " threads");
    sim::set_threads(threads);
    std::vector<std::uint32_t> out(n, 7777777);
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
    std::vector<std::uint32_t> first_of(handed.size());
    std::vector<std::vector<std::uint32_t>> seen(handed.size());
    permuter.shuffle_buckets(
        3, TestStream::Perm, 5, out,
        [&](std::size_t bucket, std::uint32_t first, std::span<const std::uint32_t> items) {
          ++handed[bucket];
          first_of[bucket] = first;
          seen[bucket].assign(items.begin(), items.end());  // already shuffled
        });
    std::vector<std::uint32_t> joined;
    for (std::size_t k = 0; k < handed.size(); ++k) {
      CHECK(handed[k] == 1);
      CHECK(first_of[k] == begin[k]);
      CHECK(seen[k].size() == begin[k + 1] - begin[k]);
      joined.insert(joined.end(), seen[k].begin(), seen[k].end());
      // Each bucket's first and last element are left in `out`, the rest of it untouched.
      CHECK(out[begin[k]] == whole[begin[k]]);
      CHECK(out[begin[k + 1] - 1] == whole[begin[k + 1] - 1]);
      CHECK(out[begin[k] + 1] == 7777777);
    }
    CHECK(std::equal(joined.begin(), joined.end(), whole.begin(), whole.end()));
  }
}

TEST_CASE("a permutation is its definition: buckets by counter, index order, Fisher-Yates",
          "[parallel][determinism]") {
  // A plain serial reading of the header's definition; the parallel one must give the same
  // elements in the same places at sizes around the block and bucket boundaries.
  for (std::size_t n : {1u, 17u, 65536u, 65537u, 300001u, 1000003u}) {
    INFO(n << " elements");
    const std::size_t buckets = sim::Permuter::bucket_count(n);
    const unsigned bits = static_cast<unsigned>(std::countr_zero(buckets));
    std::vector<std::vector<std::uint32_t>> bucket(buckets);
    for (std::size_t group = 0; group < n; group += 16) {
      sim::Rng rng{3, TestStream::Perm, 4, group / 16};
      std::uint64_t word = 0;
      for (std::size_t i = group; i < std::min(n, group + 16); ++i) {
        const std::size_t field = (i - group) % 4;  // four 16-bit fields per 64-bit draw
        if (field == 0) word = rng.bits();
        const auto bits16 = static_cast<std::uint16_t>(word >> (16 * field));
        bucket[bits16 >> (16 - bits)].push_back(static_cast<std::uint32_t>(i));
      }
    }
    std::vector<std::uint32_t> expected;
    for (std::size_t k = 0; k < buckets; ++k) {
      sim::Rng rng{3, TestStream::Perm, 4, (std::uint64_t{1} << 63) + k};
      auto& items = bucket[k];
      for (auto i = static_cast<std::uint32_t>(items.size()); i > 1; --i)
        std::swap(items[i - 1], items[rng.below32(i)]);
      expected.insert(expected.end(), items.begin(), items.end());
    }
    for (int threads : {1, 3}) {
      sim::set_threads(threads);
      std::vector<std::uint32_t> out(n);
      sim::Permuter().permute(3, TestStream::Perm, 4, out);
      // The first position that differs (n when none): a short message where a failing
      // comparison of the whole vectors would print a million numbers.
      const auto differs =
          std::mismatch(out.begin(), out.end(), expected.begin()).first - out.begin();
      CHECK(static_cast<std::size_t>(differs) == n);
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

TEST_CASE("for_blocks calls every block once, each thread a run of blocks cut by agents",
          "[parallel]") {
  for (const int threads : {1, 2, 3, 4, 7}) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{4096}, std::size_t{4097},
                                std::size_t{100000}, std::size_t{1000003}}) {
      sim::set_threads(threads);
      const std::size_t blocks = sim::block_count(n);
      std::vector<int> calls(blocks, 0), thread_of(blocks, -1);
      std::vector<std::pair<std::size_t, std::size_t>> bounds(blocks);
      sim::for_blocks(n, [&](std::size_t begin, std::size_t end, std::size_t b) {
        ++calls[b];  // each block is called on one thread only, so no two threads write one entry
        thread_of[b] = omp_get_thread_num();
        bounds[b] = {begin, end};
      });
      INFO("threads " << threads << ", n " << n);
      std::size_t expected_begin = 0;
      for (std::size_t b = 0; b < blocks; ++b) {
        REQUIRE(calls[b] == 1);
        CHECK(bounds[b].first == expected_begin);
        CHECK(bounds[b].second == std::min(n, expected_begin + sim::default_block_size));
        expected_begin = bounds[b].second;
        if (b > 0) CHECK(thread_of[b] >= thread_of[b - 1]);  // a thread's blocks are consecutive
      }
      // The runs are cut by agents: thread t's first block starts within half a block of agent
      // t n / threads. (OpenMP's static schedule would start the second of two threads at
      // block 13 of 25 for 10^5 agents: agent 53 248, not 50 000.)
      for (std::size_t b = 1; b < blocks; ++b) {
        if (thread_of[b] == thread_of[b - 1]) continue;
        const double ideal = static_cast<double>(thread_of[b]) * static_cast<double>(n) / threads;
        CHECK(std::abs(static_cast<double>(bounds[b].first) - ideal) <=
              sim::default_block_size / 2.0);
      }
    }
  }
}

TEST_CASE("for_weighted_runs cuts the items into consecutive runs of equal weight", "[parallel]") {
  // 50 heavy items (2 000 each) then 20 000 light ones (5 each): 200 000 in all.
  std::vector<std::size_t> offsets{0};
  for (std::size_t k = 0; k < 20050; ++k) offsets.push_back(offsets.back() + (k < 50 ? 2000 : 5));
  const std::size_t items = offsets.size() - 1, total = offsets.back();
  for (const int threads : {1, 2, 3, 4}) {
    sim::set_threads(threads);
    std::vector<int> calls(items, 0);
    std::vector<std::pair<std::size_t, std::size_t>> runs(static_cast<std::size_t>(threads),
                                                          {0, 0});
    sim::for_weighted_runs(offsets, [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) ++calls[k];
      runs[static_cast<std::size_t>(omp_get_thread_num())] = {begin, end};
    });
    INFO("threads " << threads);
    CHECK(std::all_of(calls.begin(), calls.end(), [](int c) { return c == 1; }));
    for (std::size_t t = 0; t < runs.size(); ++t) {
      const std::size_t weight = offsets[runs[t].second] - offsets[runs[t].first];
      // Each run holds its share, give or take the heaviest item.
      CHECK(weight <= total / static_cast<std::size_t>(threads) + 2000);
      if (t > 0) CHECK(runs[t].first == runs[t - 1].second);
    }
  }
  // Too little weight for a parallel region: one run of everything.
  const std::vector<std::size_t> light{0, 1, 3, 6};
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  sim::for_weighted_runs(
      light, [&](std::size_t begin, std::size_t end) { seen.emplace_back(begin, end); });
  CHECK(seen == std::vector<std::pair<std::size_t, std::size_t>>{{0, 3}});
}

TEST_CASE("run_tasks runs every task once, side by side", "[parallel]") {
  for (const int threads : {1, 2, 3}) {
    sim::set_threads(threads);
    std::vector<int> runs(5, 0);
    std::vector<std::function<void()>> tasks;
    for (std::size_t k = 0; k < runs.size(); ++k) tasks.emplace_back([&runs, k] { ++runs[k]; });
    sim::run_tasks(tasks);
    CHECK(runs == std::vector<int>(5, 1));
    tasks[3] = [] { throw std::runtime_error("task 3"); };
    CHECK_THROWS_WITH(sim::run_tasks(tasks), "task 3");
  }
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

TEST_CASE(
    "for_blocks_dynamic calls every block once, with for_blocks' bounds; the lowest block's "
    "exception",
    "[parallel]") {
  for (const int threads : {1, 2, 3, 4}) {
    for (const std::size_t n :
         {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{100003}}) {
      sim::set_threads(threads);
      const std::size_t blocks = sim::block_count(n, 1000);
      std::vector<int> calls(blocks, 0);
      std::vector<std::pair<std::size_t, std::size_t>> bounds(blocks);
      sim::for_blocks_dynamic(
          n,
          [&](std::size_t begin, std::size_t end, std::size_t b) {
            ++calls[b];
            bounds[b] = {begin, end};
          },
          1000);
      INFO("threads " << threads << ", n " << n);
      CHECK(calls == std::vector<int>(blocks, 1));
      for (std::size_t b = 0; b < blocks; ++b)
        CHECK(bounds[b] == std::make_pair(b * 1000, std::min(n, b * 1000 + 1000)));
    }
    CHECK_THROWS_WITH(
        sim::for_blocks_dynamic(100000,
                                [](std::size_t, std::size_t, std::size_t block) {
                                  if (block % 5 == 2)
                                    throw std::runtime_error("block " + std::to_string(block));
                                }),
        "block 2");
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
