// The composition root: the engine's command line, handed the list of models.
#include "models/all_models.hpp"
#include "sim/cli.hpp"

int main(int argc, char** argv) { return sim::cli::run(argc, argv, models::all_models()); }
