// The list of models: a new model is a folder under models/ and one line here.
#include "models/all_models.hpp"

#include "models/cpr/cpr.hpp"
#include "models/economy/economy.hpp"
#include "models/exchange/exchange.hpp"

namespace models {

sim::ModelList all_models() {
  return {
      exchange::spec(),
      cpr::spec(),
      economy::spec(),
  };
}

}  // namespace models
