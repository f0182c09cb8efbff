#pragma once
// The `commons-sim` command line: run, check, params, outputs, --help, --version.
#include "sim/model.hpp"

namespace sim::cli {

// The program: parses argv, runs the sub-command, returns the exit code (0 ok, 2 bad input,
// 3 the run failed, 130/143 interrupted). Errors go to stderr as one line.
int run(int argc, char** argv, const ModelList& models);

}  // namespace sim::cli
