#pragma once
// Translocal policy learning between cities (DESIGN.md §5.3 "Regions"; ECONOMY.md step 1;
// docs/models/economy_components.md).
//
// Once a round (every 12 months in the model), each region r compares its well-being w_r with
// the regions it looks at, adj(r). A neighbour s "does clearly better" when
//     w_s > w_r + margin |w_r|        (margin relative, e.g. 0.05 = 5 % better).
// Among those, the best (largest w_s, the lowest index on a tie) is r's model, and r adopts its
// policy package with probability `rate`. Decisions are simultaneous: all are taken on the
// packages and well-being before the round, so a package moves at most one hop a round.
// This is success-biased imitation with a threshold, as in models of policy diffusion
// (Shipan & Volden 2008, "The mechanisms of policy diffusion", Am. J. Polit. Sci. 52(4)
// 840-857: learning from successful neighbours; Boyd & Richerson 1985 for payoff-biased copying).
//
// Cost per round: O(sum of neighbourhood sizes); one Rng per region that has a model.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace models::economy {

// Random number purposes of policy learning (economy's streams are 300-399). To be listed in
// the economy ModelSpec's `streams`.
enum class PolicyStream : std::uint64_t {
  Adoption = 321,   // whether a region adopts its model's package this round
  CityLinks = 322,  // the long links of the city network
};

// A region's policy package: named lever values (e.g. "pcp_grant_per_capita" -> 20). Adopting a
// package copies all of it.
struct PolicyPackage {
  std::map<std::string, double> levers;

  // The value of a lever; std::invalid_argument naming the lever when it is not in the package.
  double at(const std::string& lever) const;
  void set(const std::string& lever, double value) { levers[lever] = value; }
  bool operator==(const PolicyPackage&) const = default;
};

// Which regions each region compares itself with: adjacency[r] lists r's neighbours.
using RegionAdjacency = std::vector<std::vector<std::uint32_t>>;

// For each region, the index of the region whose package it adopts this round (itself when it
// keeps its own). Pure: the result depends only on the arguments; region r draws from
// sim::Rng{seed, PolicyStream::Adoption, step, r}. Throws std::invalid_argument naming the value
// for: sizes that disagree, a neighbour index out of range, margin < 0, rate outside [0, 1],
// well-being not finite.
std::vector<std::uint32_t> choose_policy_sources(std::span<const double> wellbeing,
                                                 const RegionAdjacency& adjacency, double margin,
                                                 double rate, std::uint64_t seed,
                                                 std::uint64_t step);

// Applies a round's choices simultaneously: packages[r] becomes the old packages[source[r]].
// Returns how many regions changed package.
std::size_t adopt_policies(std::span<const std::uint32_t> source,
                           std::vector<PolicyPackage>& packages);

// A city network: a ring (each region linked both ways with r - 1 and r + 1; two regions are
// linked once; one region has no neighbour) plus `extra_links` long links between regions not
// yet linked, drawn from sim::Rng{seed, PolicyStream::CityLinks, 0, link}. Links are undirected;
// each list is sorted. Throws std::invalid_argument when extra_links exceeds the pairs left.
RegionAdjacency region_ring_adjacency(std::size_t regions, std::size_t extra_links,
                                      std::uint64_t seed);

}  // namespace models::economy
