#pragma once
// Model `exchange`: kinetic wealth exchange, the minimal market (docs/models/exchange.md).
#include "sim/model.hpp"

namespace models::exchange {

sim::ModelSpec spec();

}  // namespace models::exchange
