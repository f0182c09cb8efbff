#pragma once
// The commoners' social network: a small world inside each region with a few links across
// (DESIGN.md §5.3; docs/models/economy_components.md).
//
// Every commoner has exactly `degree` directed out-links, stored in one flat array of
// n x degree uint32 ids (10^7 commoners with degree 6 hold 240 MB and nothing else). Out-links
// are what a commoner looks at (the norms of its neighbours); they need not be returned.
//
// Construction, for commoner i of region r whose m members are taken in id order, i at rank p:
//  1. Ring lattice (Watts & Strogatz 1998): link j goes to the member at rank p + 1, p - 1,
//     p + 2, p - 2, ... (cyclic), so at rewire 0 the links are symmetric and the lattice is the
//     textbook one with clustering 3(k - 2) / (4(k - 1)) for even k.
//  2. Each link, with probability `cross_region_share`, goes instead to a member of another
//     region drawn uniformly from all commoners outside r (regions are reached in proportion to
//     their size); otherwise, with probability `rewire`, to a uniformly drawn member of r.
//  3. A redrawn target that is i itself or already one of i's links is drawn again (up to 16
//     times; then the lattice link is kept), so there are no self-links and, except in the
//     fallbacks below, no duplicate links.
// Fallbacks, never a crash: when degree >= m (a region too small for `degree` distinct
// neighbours) the lattice cycles through the other m - 1 members, repeating some; a region of
// one member sends all its links to other regions; when every commoner lives in one region,
// no link crosses. Only a network of a single commoner (no possible neighbour) is an error.
//
// Each commoner's links come from sim::Rng{seed, NetworkStream::Links, 0, i}: the network is
// the same on any number of threads. Cost O(n degree) time; 4 n bytes of scratch during
// construction (the members in region order), freed before it returns.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace models::economy {

// Random number purposes of the network (economy's streams are 300-399; the model's own
// enum uses 300-306). To be listed in the economy ModelSpec's `streams`.
enum class NetworkStream : std::uint64_t {
  Links = 320,  // which links of a commoner are rewired or cross regions, and to whom
};

class Network {
 public:
  // region[i] in [0, regions) is commoner i's region. Throws std::invalid_argument naming the
  // value for: a region id out of range, degree 0, rewire or cross_region_share outside [0, 1],
  // fewer than 2 commoners, 2^32 commoners or more.
  Network(std::uint64_t seed, std::span<const std::uint32_t> region, std::size_t regions,
          unsigned degree, double rewire, double cross_region_share);

  std::size_t size() const { return n_; }
  unsigned degree() const { return degree_; }

  // The `degree` out-neighbours of commoner i, in link order.
  std::span<const std::uint32_t> neighbours(std::size_t i) const {
    return {links_.get() + i * degree_, degree_};
  }

  // out[i] = mean of x over i's out-neighbours, summed in link order; parallel over blocks of
  // commoners and bitwise the same on any number of threads. x and out have size() entries
  // (std::invalid_argument otherwise) and must not overlap.
  void neighbour_mean(std::span<const double> x, std::span<double> out) const;

  // Bytes held: the object and its link array.
  std::size_t bytes() const { return sizeof(*this) + n_ * degree_ * sizeof(std::uint32_t); }

 private:
  std::size_t n_ = 0;
  unsigned degree_ = 0;
  // n x degree, row i the out-links of commoner i (not a vector: each row is first written by
  // the thread that builds it, not zeroed by one thread beforehand).
  std::unique_ptr<std::uint32_t[]> links_;
};

}  // namespace models::economy
