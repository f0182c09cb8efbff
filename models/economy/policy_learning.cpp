#include "models/economy/policy_learning.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "sim/rng.hpp"

namespace models::economy {
namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw std::invalid_argument("policy learning: " + what);
}

bool linked(const RegionAdjacency& adjacency, std::size_t a, std::size_t b) {
  const auto& row = adjacency[a];
  return std::find(row.begin(), row.end(), static_cast<std::uint32_t>(b)) != row.end();
}

void link(RegionAdjacency& adjacency, std::size_t a, std::size_t b) {
  adjacency[a].push_back(static_cast<std::uint32_t>(b));
  adjacency[b].push_back(static_cast<std::uint32_t>(a));
}

}  // namespace

double PolicyPackage::at(const std::string& lever) const {
  const auto it = levers.find(lever);
  if (it == levers.end()) refuse("the policy package has no lever '" + lever + "'");
  return it->second;
}

std::vector<std::uint32_t> choose_policy_sources(std::span<const double> wellbeing,
                                                 const RegionAdjacency& adjacency, double margin,
                                                 double rate, std::uint64_t seed,
                                                 std::uint64_t step) {
  const std::size_t regions = wellbeing.size();
  if (adjacency.size() != regions)
    refuse("well-being is given for " + std::to_string(regions) +
           " regions but the adjacency has " + std::to_string(adjacency.size()));
  if (!(margin >= 0.0) || !std::isfinite(margin))
    refuse("margin must be non-negative and finite, got " + std::to_string(margin));
  if (!(rate >= 0.0 && rate <= 1.0)) refuse("rate must be in [0, 1], got " + std::to_string(rate));
  for (std::size_t r = 0; r < regions; ++r) {
    if (!std::isfinite(wellbeing[r]))
      refuse("well-being of region " + std::to_string(r) + " is " + std::to_string(wellbeing[r]));
    for (std::uint32_t s : adjacency[r])
      if (s >= regions)
        refuse("region " + std::to_string(r) + " has neighbour " + std::to_string(s) +
               ", but there are only " + std::to_string(regions) + " regions");
  }

  std::vector<std::uint32_t> source(regions);
  for (std::size_t r = 0; r < regions; ++r) {
    source[r] = static_cast<std::uint32_t>(r);
    const double bar = wellbeing[r] + margin * std::abs(wellbeing[r]);
    std::size_t best = r;
    for (std::uint32_t s : adjacency[r]) {
      if (s == r || !(wellbeing[s] > bar)) continue;
      if (best == r || wellbeing[s] > wellbeing[best] ||
          (wellbeing[s] == wellbeing[best] && s < best))
        best = s;
    }
    if (best == r) continue;
    sim::Rng rng{seed, PolicyStream::Adoption, step, r};
    if (rng.bernoulli(rate)) source[r] = static_cast<std::uint32_t>(best);
  }
  return source;
}

std::size_t adopt_policies(std::span<const std::uint32_t> source,
                           std::vector<PolicyPackage>& packages) {
  if (source.size() != packages.size())
    refuse("choices are given for " + std::to_string(source.size()) + " regions but there are " +
           std::to_string(packages.size()) + " packages");
  for (std::size_t r = 0; r < source.size(); ++r)
    if (source[r] >= packages.size())
      refuse("region " + std::to_string(r) + " adopts the package of region " +
             std::to_string(source[r]) + ", which does not exist");
  const std::vector<PolicyPackage> before = packages;  // simultaneous: copy from the old packages
  std::size_t changed = 0;
  for (std::size_t r = 0; r < source.size(); ++r) {
    if (source[r] == r) continue;
    if (!(packages[r] == before[source[r]])) ++changed;
    packages[r] = before[source[r]];
  }
  return changed;
}

RegionAdjacency region_ring_adjacency(std::size_t regions, std::size_t extra_links,
                                      std::uint64_t seed) {
  RegionAdjacency adjacency(regions);
  std::size_t ring = 0;
  if (regions == 2) {
    link(adjacency, 0, 1);
    ring = 1;
  } else if (regions >= 3) {
    for (std::size_t r = 0; r < regions; ++r) link(adjacency, r, (r + 1) % regions);
    ring = regions;
  }
  const std::size_t pairs = regions * (regions > 0 ? regions - 1 : 0) / 2;
  if (extra_links > pairs - ring)
    refuse(std::to_string(extra_links) + " extra links asked for, but " + std::to_string(regions) +
           " regions on a ring leave only " + std::to_string(pairs - ring) + " pairs unlinked");

  constexpr int attempts = 64;
  for (std::size_t k = 0; k < extra_links; ++k) {
    sim::Rng rng{seed, PolicyStream::CityLinks, 0, k};
    bool placed = false;
    for (int attempt = 0; attempt < attempts && !placed; ++attempt) {
      const std::size_t a = rng.below(regions);
      std::size_t b = rng.below(regions - 1);
      if (b >= a) ++b;
      if (!linked(adjacency, a, b)) {
        link(adjacency, a, b);
        placed = true;
      }
    }
    // A nearly complete network: the first unlinked pair, so the loop always ends.
    for (std::size_t a = 0; a < regions && !placed; ++a)
      for (std::size_t b = a + 1; b < regions && !placed; ++b)
        if (!linked(adjacency, a, b)) {
          link(adjacency, a, b);
          placed = true;
        }
  }
  for (auto& row : adjacency) std::sort(row.begin(), row.end());
  return adjacency;
}

}  // namespace models::economy
