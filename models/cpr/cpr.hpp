#pragma once
// Model `cpr`: a common-pool resource (Gordon-Schaefer fishery) under four governance regimes,
// and the Ostrom-Gardner-Walker appropriation game (docs/models/cpr.md).
#include "sim/model.hpp"

namespace models::cpr {

sim::ModelSpec spec();

}  // namespace models::cpr
