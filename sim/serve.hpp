#pragma once
// `commons-sim serve`: the workshop server. An HTTP server (cpp-httplib) that serves the page
// (embedded at build time from web/) and a small JSON API to run, steer and compare runs of
// any model in the list it is handed; the page is generated from each model's parameter table
// and declared series. Layout of the API: docs/workshop.md.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/model.hpp"

namespace sim {

// What one participant may ask of the server, so that nobody stalls the facilitator's laptop.
struct ServeLimits {
  std::int64_t max_agents = 20000;  // every integer parameter of a model (agents, regions, ...)
  std::int64_t max_steps = 20000;   // sim.steps of one run
  std::int64_t max_records = 5000;  // sim.steps / sim.record_every of one run
  std::int64_t max_runs = 3;        // runs and ensembles going (running or paused) at once
  std::int64_t max_replicas = 20;   // replicas of one ensemble
  std::int64_t max_kept = 12;       // finished runs kept per participant (older ones go)
  std::int64_t max_streams = 6;     // live event streams open per participant
};

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                               // 0: any free port (printed on stdout)
  std::vector<std::filesystem::path> scenarios;  // offered on the page (default: scenarios/*.ini)
  std::string room;  // a room opened at start; required for a non-loopback host
  int workers = 0;   // threads that run simulations (0: cores - 1, at least 1)
  ServeLimits limits;
};

// Serves until SIGINT or SIGTERM; returns the exit code. Throws InputError for bad options
// (a non-loopback host without a room code, a scenario that does not load, a port in use).
int serve(const ServeOptions& options, const ModelList& models);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

// The page's files, embedded at build time (web_assets.cpp, generated from web/).
struct WebAsset {
  const char* path;          // "/index.html"
  const char* content_type;  // "text/html; charset=utf-8"
  const unsigned char* data;
  std::size_t size;
};
const std::vector<WebAsset>& web_assets();

}  // namespace sim
