#pragma once
// Model `economy`: commoners, co-ops, platforms, the commons and the partner state, one month a
// step (docs/models/economy.md).
#include "sim/model.hpp"

namespace models::economy {

sim::ModelSpec spec();

// The largest |care + paid work + gig + commons + leisure - time budget| over all commoners of a
// running economy model, in hours, or the time budget when any activity is negative (for tests:
// every commoner's hours add up to the budget). Throws std::invalid_argument when `model` is not
// an economy model.
double largest_time_budget_error(const sim::Model& model);

// The largest relative gap, over the producers, between the staff a producer holds (sum of its
// workers' skills) and its real output capacity / (productivity x hours), this step (for tests:
// employment = output / (productivity x hours)). Throws std::invalid_argument as above.
double largest_employment_identity_error(const sim::Model& model);

}  // namespace models::economy
