#pragma once
// Model `economy`: commoners, co-ops, platforms and the state, one month a step
// (docs/models/economy.md). Stage 1: labour, incomes, time use, taxes, spending, profits.
#include "sim/model.hpp"

namespace models::economy {

sim::ModelSpec spec();

// The largest |care + paid work + commons + leisure - time budget| over all commoners of a
// running economy model, in hours (for tests: every commoner's hours add up to the budget).
// Throws std::invalid_argument when `model` is not an economy model.
double largest_time_budget_error(const sim::Model& model);

}  // namespace models::economy
