#pragma once
#include "sim/model.hpp"

namespace models {

// Every model the program knows, in the order `commons-sim params` lists them.
sim::ModelList all_models();

}  // namespace models
