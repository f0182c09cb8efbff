#pragma once
// Deterministic parallel loops.
//
// Agents are cut into fixed-size blocks whose boundaries depend only on the number of agents,
// never on the number of threads. Each thread takes a run of blocks; every reduction computes
// one partial per block and combines the partials in block order. So a sum is the same, bit
// for bit, on 1, 2 or 16 threads. (No OpenMP `reduction` clause on floating point: its order
// is unspecified.)
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

namespace sim {

inline constexpr std::size_t default_block_size = 4096;  // a multiple of 4 (see Rng groups)

inline std::size_t block_count(std::size_t n, std::size_t block_size = default_block_size) {
  return (n + block_size - 1) / block_size;
}

// Threads used by parallel loops (0: OpenMP's default).
inline void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}
inline int max_threads() { return omp_get_max_threads(); }

namespace detail {
// Exceptions may not leave an OpenMP region: keep the one from the lowest block and rethrow it
// after the loop, so even the error is the same on any thread count.
class FirstError {
 public:
  void keep(std::size_t block, std::exception_ptr e) {
    std::lock_guard lock(mutex_);
    if (!error_ || block < block_) {
      error_ = e;
      block_ = block;
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  std::size_t block_ = 0;
};
}  // namespace detail

// Calls f(begin, end, block) for every block of [0, n), in parallel. f may write only to the
// agents of its block (and to per-block buffers indexed by `block`).
template <class F>
void for_blocks(std::size_t n, F&& f, std::size_t block_size = default_block_size) {
  const std::size_t blocks = block_count(n, block_size);
  if (blocks <= 1) {  // one block: no parallel region, whose start-up would cost more than the work
    if (blocks == 1) f(std::size_t{0}, n, std::size_t{0});
    return;
  }
  detail::FirstError error;
  // Each thread takes one run of consecutive blocks, the same run from loop to loop, so its cache
  // lines stay put. (Dynamic scheduling gives the same results and was 15 % slower on the exchange
  // benchmark.) The runs are cut by agents, not by blocks: OpenMP's static schedule would give
  // the first thread 13 of 25 blocks of 10^5 agents (53 248 agents) and the second 12 with the
  // short last one (46 752), a ceiling of 1.88x on two threads; cut nearest 50 000 agents (49 152
  // and 50 848), it is 1.97x.
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const auto first_block = [&](std::size_t thread) {  // the block nearest thread's share of n
      if (thread >= threads) return blocks;
      const std::size_t share = threads * block_size;
      return std::min(blocks, (thread * n + share / 2) / share);
    };
    const std::size_t last = first_block(t + 1);
    for (std::size_t b = first_block(t); b < last; ++b) {
      try {
        const std::size_t begin = b * block_size;
        f(begin, std::min(n, begin + block_size), b);
      } catch (...) {
        error.keep(b, std::current_exception());
      }
    }
  }
  error.rethrow();
}

// As for_blocks, but the blocks are handed out one at a time to whichever thread is free. For
// loops run once (start-up), whose blocks cost unequal amounts or whose threads run at unequal
// speeds: for_blocks' fixed runs keep each thread's cache lines from loop to loop, which a loop
// run once does not need.
template <class F>
void for_blocks_dynamic(std::size_t n, F&& f, std::size_t block_size = default_block_size) {
  const auto blocks = static_cast<std::int64_t>(block_count(n, block_size));
  detail::FirstError error;
#pragma omp parallel for schedule(dynamic, 1) if (blocks > 1)
  for (std::int64_t block = 0; block < blocks; ++block) {
    const auto b = static_cast<std::size_t>(block);
    try {
      f(b * block_size, std::min(n, (b + 1) * block_size), b);
    } catch (...) {
      error.keep(b, std::current_exception());
    }
  }
  error.rethrow();
}

// Calls f(begin, end) for consecutive runs of the items [0, n), n = offsets.size() - 1, one run
// per thread, cut so the runs hold equal shares of the weight: item k weighs
// offsets[k + 1] - offsets[k] (offsets are non-decreasing, a counting sort's group offsets).
// For loops over groups of very different sizes; f must give the same result however the
// items are cut, and an exception thrown by it is the first run's.
template <class F>
void for_weighted_runs(std::span<const std::size_t> offsets, F&& f) {
  const std::size_t n = offsets.empty() ? 0 : offsets.size() - 1;
  if (n == 0) return;
  const std::size_t total = offsets[n] - offsets[0];
  if (total < default_block_size) {  // too little work for a parallel region
    f(std::size_t{0}, n);
    return;
  }
  detail::FirstError error;
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const auto first_item = [&](std::size_t thread) -> std::size_t {  // the first item at its share
      if (thread == 0) return 0;
      if (thread >= threads) return n;
      const std::size_t share =
          offsets[0] + total / threads * thread + total % threads * thread / threads;
      return static_cast<std::size_t>(std::lower_bound(offsets.begin(), offsets.end() - 1, share) -
                                      offsets.begin());
    };
    const std::size_t begin = first_item(t), end = first_item(t + 1);
    if (begin < end) {
      try {
        f(begin, end);
      } catch (...) {
        error.keep(t, std::current_exception());
      }
    }
  }
  error.rethrow();
}

// Runs independent tasks side by side, each on one thread, in for_blocks' runs: the first
// tasks on the first thread. For work too coarse for blocks, such as filling a model's columns
// (give the tasks similar sizes).
inline void run_tasks(std::span<const std::function<void()>> tasks) {
  for_blocks(
      tasks.size(),
      [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t k = begin; k < end; ++k) tasks[k]();
      },
      1);
}

// Per-block partials, computed in parallel: partial(begin, end, block) -> T.
template <class T, class F>
std::vector<T> block_partials(std::size_t n, F&& partial,
                              std::size_t block_size = default_block_size) {
  std::vector<T> partials(block_count(n, block_size));
  for_blocks(
      n, [&](std::size_t begin, std::size_t end, std::size_t b) { partials[b] = partial(begin, end, b); },
      block_size);
  return partials;
}

// Sum of term(i) over [0, n): in index order inside a block, block partials in block order.
template <class F>
double sum(std::size_t n, F&& term, std::size_t block_size = default_block_size) {
  const auto partials = block_partials<double>(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        double s = 0.0;
        for (std::size_t i = begin; i < end; ++i) s += term(i);
        return s;
      },
      block_size);
  double total = 0.0;
  for (double p : partials) total += p;
  return total;
}

// The indices i in [0, n) for which keep(i) holds, in increasing order, into `out` (replacing
// its contents), computed in parallel: each block lists its own, then the lists are joined in
// block order. keep(i) is called once per index and may draw from counter-based streams.
// `scratch` holds the per-block lists between calls (pass the same one each time to reuse them).
template <class Keep>
void select_indices(std::size_t n, Keep&& keep, std::vector<std::uint32_t>& out,
                    std::vector<std::vector<std::uint32_t>>& scratch,
                    std::size_t block_size = default_block_size) {
  const std::size_t blocks = block_count(n, block_size);
  if (blocks <= 1) {
    out.clear();
    for (std::size_t i = 0; i < n; ++i)
      if (keep(i)) out.push_back(static_cast<std::uint32_t>(i));
    return;
  }
  scratch.resize(blocks);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        auto& list = scratch[b];
        list.clear();
        for (std::size_t i = begin; i < end; ++i)
          if (keep(i)) list.push_back(static_cast<std::uint32_t>(i));
      },
      block_size);
  std::vector<std::size_t> at(blocks + 1, 0);
  for (std::size_t b = 0; b < blocks; ++b) at[b + 1] = at[b] + scratch[b].size();
  out.resize(at[blocks]);
  for_blocks(
      blocks,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t b = begin; b < end; ++b) std::copy(scratch[b].begin(), scratch[b].end(), out.begin() + at[b]);
      },
      1);
}

// Counting sorts by blocks: counts[b * keys + k] holds how many of block b's items have key k.
// Turns them, in place, into where block b writes its first item of key k (exclusive prefix
// sums, key-major then block, so each key's items stay in block order), and sets begin[k] to
// where key k starts (begin has keys + 1 entries, the last the total).
template <class Count, class Offset>
void counts_to_offsets(std::span<Count> counts, std::size_t blocks, std::size_t keys, std::vector<Offset>& begin) {
  begin.assign(keys + 1, 0);
  Offset position = 0;
  for (std::size_t k = 0; k < keys; ++k) {
    begin[k] = position;
    for (std::size_t b = 0; b < blocks; ++b) {
      const Count c = counts[b * keys + k];
      counts[b * keys + k] = static_cast<Count>(position);
      position += c;
    }
  }
  begin[keys] = position;
}

// Groups the indices i in [0, n) by key(i) in [0, keys) (key(i) < 0: left out), each group in
// increasing order (a stable counting sort): group k is out[offsets[k]] .. out[offsets[k + 1]],
// and out's first offsets[keys] entries are written (out must hold that many). Counted and
// scattered by blocks in parallel; a stable sort has one result, so it is the same on any thread
// count. key(i) is called twice per index. `counts` is scratch kept between calls.
template <class Key>
void group_indices(std::size_t n, std::size_t keys, Key&& key, std::span<std::uint32_t> out,
                   std::vector<std::size_t>& offsets, std::vector<std::uint32_t>& counts) {
  // Blocks of at least 2^16 indices, and few enough that the counters stay small.
  const std::size_t wanted = std::clamp<std::size_t>(
      std::min(n >> 16, (std::size_t{1} << 22) / std::max<std::size_t>(keys, 1)), 1, 64);
  const std::size_t block_size = std::max<std::size_t>(1, (n + wanted - 1) / wanted);
  const std::size_t blocks = block_count(n, block_size);
  counts.assign(blocks * keys, 0);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* c = counts.data() + b * keys;
        for (std::size_t i = begin; i < end; ++i) {
          const auto k = key(i);
          if (k >= 0) ++c[static_cast<std::size_t>(k)];
        }
      },
      block_size);
  counts_to_offsets(std::span<std::uint32_t>(counts), blocks, keys, offsets);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* next = counts.data() + b * keys;
        for (std::size_t i = begin; i < end; ++i) {
          const auto k = key(i);
          if (k >= 0) out[next[static_cast<std::size_t>(k)]++] = static_cast<std::uint32_t>(i);
        }
      },
      block_size);
}

}  // namespace sim
