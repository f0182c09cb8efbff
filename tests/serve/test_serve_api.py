"""The HTTP API of `commons-sim serve`, against the real binary on loopback: runs, live levers,
ensembles, rooms, the per-participant limits and the bad-request paths (docs/workshop.md)."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("SIM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("COMMONS_SIM", SOURCE_DIR / "build" / "commons-sim")).resolve()
# Loopback only: no proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([str(BINARY), "serve", "--port", "0", "--workers", "2", *args], cwd=SOURCE_DIR,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, f"no address in {line!r}: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, token=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Token", token)
        try:
            with OPENER.open(req, timeout=30) as res:
                payload = res.read()
                return res.status, (json.loads(payload) if res.headers.get_content_type() == "application/json" else payload)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def session(self):
        status, body = self.call("POST", "/api/session", {})
        assert status == 200, body
        return body["token"]

    def wait(self, token, run_id, states=("complete",), timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, run = self.call("GET", f"/api/runs/{run_id}", token=token)
            assert status == 200, run
            if run["state"] in states:
                return run
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} still {run['state']} after {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 143, "SIGTERM stops the server cleanly (exit 143)"


@pytest.fixture
def token(server):
    return server.session()


def test_info_lists_models_parameters_series_and_scenarios(server):
    status, info = server.call("GET", "/api/info")
    assert status == 200
    models = {m["name"]: m for m in info["models"]}
    assert {"exchange", "cpr"} <= set(models)
    agents = next(p for p in models["exchange"]["params"] if p["name"] == "exchange.agents")
    assert agents["kind"] == "integer" and agents["min"] == 2 and agents["unit"]
    assert any(p["schedulable"] for p in models["cpr"]["params"])
    assert [s["name"] for s in models["exchange"]["series"]][0] == "gini"
    ids = [s["id"] for s in info["scenarios"]]
    assert ids[:3] == ["cpr_fishing_game", "exchange_demo", "workshop"], "the workshop scenarios come first"
    assert "exchange_sweep" not in ids, "sweeps are for the command line"
    demo = next(s for s in info["scenarios"] if s["id"] == "exchange_demo")
    assert demo["values"]["exchange.agents"] == "10000" and demo["title"]


def test_a_run_matches_the_command_line_bit_for_bit(server, token, tmp_path):
    status, run = server.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 300, "sim.steps": 100},
                                                    "speed": 0}, token)
    assert status == 201, run
    run = server.wait(token, run["id"])
    assert len(run["records"]) == 100 // 5 + 1
    out = tmp_path / "cli.h5"
    subprocess.run([str(BINARY), "run", str(SOURCE_DIR / "scenarios/exchange_demo.ini"), "--set", "exchange.agents=300",
                    "--steps", "100", "--out", str(out), "--quiet"], check=True)
    with h5py.File(out) as f:
        gini = f["series/gini"][:]
    served = np.array([r[2] for r in run["records"]])
    assert np.array_equal(served, gini), "same scenario, same seed: the same numbers as commons-sim run"


@pytest.mark.parametrize("scenario,base,lever,value,expect", [
    ("cpr_fishing_game", {"sim.steps": 300, "cpr.regime": "open_access"}, "cpr.regime", "state", "0:open_access, 21:state"),
    ("exchange_demo", {"sim.steps": 100, "exchange.agents": 500}, "exchange.chi", "0.5", "0:0, 21:0.5"),
    ("workshop", {"sim.steps": 30, "economy.commoners": 500}, "economy.platform_tax", "0.5", "0:0.2, 5:0.5"),
])
def test_a_lever_changed_live_gives_the_run_its_final_scenario_reproduces(server, token, scenario, base, lever, value, expect):
    status, run = server.call("POST", "/api/runs", {"scenario": scenario, "set": base, "start": False}, token)
    assert status == 201 and run["state"] == "paused", run
    for _ in range(4):
        status, _ = server.call("POST", f"/api/runs/{run['id']}/control", {"action": "step"}, token)
        assert status == 200
        server.wait(token, run["id"], ("paused",))
    status, changed = server.call("POST", f"/api/runs/{run['id']}/lever", {"name": lever, "value": value}, token)
    assert status == 200, changed
    step = int(expect.split(", ")[-1].split(":")[0])
    assert changed["changes"] == [{"step": step, "name": lever, "value": value}]
    server.call("POST", f"/api/runs/{run['id']}/control", {"action": "run", "speed": 0}, token)
    live = server.wait(token, run["id"])
    assert f"{lever}={expect}" in live["overrides"]
    # The final scenario, run from the start, gives the same run: the model's saved state is all
    # that a run carries from one step to the next.
    again_set = dict(o.split("=", 1) for o in live["overrides"])
    status, again = server.call("POST", "/api/runs", {"scenario": scenario, "set": again_set, "speed": 0}, token)
    assert status == 201, again
    again = server.wait(token, again["id"])
    assert again["records"] == live["records"]
    # ... and it differs from the scenario without the change.
    status, plain = server.call("POST", "/api/runs", {"scenario": scenario, "set": base, "speed": 0}, token)
    plain = server.wait(token, plain["id"])
    assert plain["records"][:5] == live["records"][:5] and plain["records"][-1] != live["records"][-1]


def test_the_run_file_downloads_as_hdf5_with_the_lever_schedule(server, token, tmp_path):
    status, run = server.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 200, "sim.steps": 50},
                                                    "start": False}, token)
    server.call("POST", f"/api/runs/{run['id']}/control", {"action": "step"}, token)
    server.wait(token, run["id"], ("paused",))
    status, _ = server.call("POST", f"/api/runs/{run['id']}/lever", {"name": "exchange.chi", "value": 0.5}, token)
    assert status == 200
    server.call("POST", f"/api/runs/{run['id']}/control", {"action": "run", "speed": 0}, token)
    server.wait(token, run["id"])
    status, data = server.call("GET", f"/api/runs/{run['id']}/download?token={token}")
    assert status == 200
    path = tmp_path / "run.h5"
    path.write_bytes(data)
    with h5py.File(path) as f:
        assert f["meta"].attrs["status"] == "complete"
        assert "chi = 0:0, 6:0.5" in f["scenario"].attrs["text"]
        assert f["series/gini"].shape == (11,)


@pytest.mark.parametrize("scenario,set_", [
    ("workshop", {"economy.commoners": 200, "sim.steps": 12}),
    ("cpr_fishing_game", {"sim.steps": 100, "cpr.regime": "commons"}),
])
def test_every_model_downloads_as_a_complete_run_file(server, token, tmp_path, scenario, set_):
    status, run = server.call("POST", "/api/runs", {"scenario": scenario, "set": set_, "speed": 0}, token)
    assert status == 201, run
    run = server.wait(token, run["id"])
    status, data = server.call("GET", f"/api/runs/{run['id']}/download?token={token}")
    assert status == 200, data
    path = tmp_path / "run.h5"
    path.write_bytes(data)
    with h5py.File(path) as f:
        assert f["meta"].attrs["status"] == "complete"
        name = next(iter(k for k in f["series"].keys() if k not in ("step", "time", "year")))
        assert f["series/step"][-1] == set_["sim.steps"] and f[f"series/{name}"].shape == (len(run["records"]),)


def test_an_ensemble_gives_a_median_inside_its_band(server, token):
    status, e = server.call("POST", "/api/ensembles", {"scenario": "exchange_demo", "replicas": 4,
                                                       "set": {"exchange.agents": 200, "sim.steps": 50}}, token)
    assert status == 201, e
    e = server.wait(token, e["id"])
    result = e["ensemble"]
    assert len(result["median"]) == 11 and result["steps"][-1] == 50
    med, lo, hi = (np.array(result[k], dtype=float) for k in ("median", "lo", "hi"))
    assert np.all(lo <= med) and np.all(med <= hi)
    assert np.any(hi[-1] > lo[-1]), "replicas differ: their seeds differ"


def run_seed(base, run):
    """The seed of replica `run` (as a sweep's run; docs/sweeps.md)."""
    m = (1 << 64) - 1
    z = (base + (run + 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z ^= z >> 31
    return z & ((1 << 53) - 1)


def test_an_ensemble_is_the_median_of_its_replicas_run_one_by_one(server, token, tmp_path):
    """Replicas run in slices on the workers; each is still the run the command line gives."""
    status, e = server.call("POST", "/api/ensembles", {"scenario": "exchange_demo", "replicas": 3,
                                                       "set": {"exchange.agents": 2000, "sim.steps": 400}}, token)
    assert status == 201, e
    result = server.wait(token, e["id"])["ensemble"]
    gini = []
    for r in range(3):
        out = tmp_path / f"r{r}.h5"
        subprocess.run([str(BINARY), "run", str(SOURCE_DIR / "scenarios/exchange_demo.ini"), "--set", "exchange.agents=2000",
                        "--steps", "400", "--seed", str(run_seed(1, r)), "--out", str(out), "--quiet"], check=True)
        with h5py.File(out) as f:
            gini.append(f["series/gini"][:])
    gini = np.sort(np.array(gini), axis=0)
    assert np.array_equal(np.array([m[0] for m in result["median"]]), gini[1]), "the median of 3 is the middle one"
    lo = gini[0] + 0.2 * (gini[1] - gini[0])
    assert np.allclose([x[0] for x in result["lo"]], lo, rtol=0, atol=1e-15), "10 %: linear between the two lowest"


@pytest.mark.parametrize("body,status,message", [
    ({"scenario": "exchange_demo", "set": {"exchange.agents": -5}}, 400, r"exchange\.agents = -5 is out of range \[2, "),
    ({"scenario": "exchange_demo", "set": {"exchange.agnts": 5}}, 400, r"did you mean 'exchange\.agents'"),
    ({"scenario": "exchange_demo", "set": {"exchange.rule": "fair"}}, 400, r"fair"),
    ({"scenario": "exchange_demo", "set": {"exchange.chi": "0:0.1, 0:0.2"}}, 400, r"chi"),
    ({"scenario": "exchange_demo", "set": {"sim.model": "cpr"}}, 400, r"cannot be set from the page"),
    ({"scenario": "exchange_demo", "set": {"cpr.harvesters": 5}}, 400, r"not a parameter of model 'exchange'"),
    ({"scenario": "exchange_demo", "set": {"exchange.agents": {"a": 1}}}, 400, r"must be a string, a number"),
    ({"scenario": "exchange_demo", "set": {"exchange.rule": "random\n[sim]"}}, 400, r"control character"),
    ({"scenario": "exchange_demo", "set": [1, 2]}, 400, r"'set' must be an object"),
    ({"scenario": "exchnage_demo"}, 404, r"did you mean 'exchange_demo'"),
    ({}, 400, r"'scenario' .* is required"),
    ({"scenario": "exchange_demo", "speed": "fast"}, 400, r"speed"),
])
def test_bad_parameters_get_a_4xx_naming_the_problem(server, token, body, status, message):
    got, answer = server.call("POST", "/api/runs", body, token)
    assert got == status and re.search(message, answer["error"]), answer


def test_malformed_requests_get_a_4xx(server, token):
    assert server.call("POST", "/api/runs", raw=b"{bad", token=token)[0] == 400
    assert server.call("POST", "/api/runs", raw=b"[1]", token=token)[0] == 400
    assert server.call("POST", "/api/runs", {"scenario": "exchange_demo"})[0] == 401
    assert server.call("POST", "/api/runs", {"scenario": "exchange_demo"}, token="nope")[0] == 401
    assert server.call("GET", "/api/runs/999999", token=token)[0] == 404
    assert server.call("GET", "/api/runs/99999999999999999999", token=token)[0] == 400
    assert server.call("GET", "/api/nothing")[0] == 404
    status, run = server.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100}, "start": False}, token)
    rid = run["id"]
    assert server.call("POST", f"/api/runs/{rid}/control", {"action": "fly"}, token)[0] == 400
    got, answer = server.call("POST", f"/api/runs/{rid}/lever", {"name": "exchange.agents", "value": 5}, token)
    assert got == 409 and "not a policy lever" in answer["error"]
    got, answer = server.call("POST", f"/api/runs/{rid}/lever", {"name": "exchange.chi", "value": "0:1, 5:2"}, token)
    assert got == 400 and "one value" in answer["error"]
    got, answer = server.call("POST", f"/api/runs/{rid}/lever", {"name": "exchange.chi", "value": 1000}, token)
    assert got == 400 and "out of range" in answer["error"], "a live lever passes the scenario's range checks"
    assert server.call("POST", f"/api/runs/{rid}/save", {"label": "x"}, token)[0] == 409, "saving needs a room"
    other = server.session()
    assert server.call("GET", f"/api/runs/{rid}", token=other)[0] == 403, "a participant's runs are their own"
    assert server.call("DELETE", f"/api/runs/{rid}", token=token)[0] == 200
    # Garbage on the socket does not bring the server down.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"\x00\xffGARBAGE / HTTP/9\r\n\r\n")
        s.recv(100)
    assert server.call("GET", "/api/info")[0] == 200


def test_a_foreign_host_name_is_refused(server):
    req = urllib.request.Request(server.url + "/api/info", headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as e:
        OPENER.open(req, timeout=10)
    assert e.value.code == 403 and "evil.example" in json.loads(e.value.read())["error"]


def test_per_participant_limits():
    s = Server("--max-agents", "500", "--max-steps", "1000", "--max-runs", "1", "--max-replicas", "3")
    try:
        t = s.session()
        got, answer = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 501}}, t)
        assert got == 422 and "over this server's limit of 500" in answer["error"]
        got, answer = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100, "sim.steps": 1001}}, t)
        assert got == 422 and "limit of 1000 steps" in answer["error"]
        got, answer = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100, "sim.record_every": 1,
                                                                                       "sim.steps": 1000}, "speed": 0}, t)
        assert got == 201, "1001 records are within the limit"
        s.wait(t, answer["id"])
        got, answer = s.call("POST", "/api/ensembles", {"scenario": "exchange_demo", "replicas": 4, "set": {"exchange.agents": 100}}, t)
        assert got == 422 and "[2, 3]" in answer["error"]
        got, paused = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100}, "start": False}, t)
        assert got == 201, paused
        got, answer = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100}, "start": False}, t)
        # A paused run holds the one place; a finished one does not.
        assert got == 429 and "runs going already" in answer["error"]
        assert s.call("POST", f"/api/runs/{paused['id']}/control", {"action": "stop"}, t)[0] == 200
        assert s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100}, "start": False}, t)[0] == 201
        # Another participant has their own allowance.
        assert s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100}, "start": False},
                      s.session())[0] == 201
    finally:
        s.stop()


def test_rooms_join_by_code_and_only_the_facilitator_sees_everyone():
    s = Server("--room", "tide7")
    try:
        status, fac = s.call("POST", "/api/rooms", {"code": "TIDE7"})
        assert status == 200 and fac["facilitator"] and fac["code"] == "TIDE7"
        assert s.call("POST", "/api/rooms/join", {"code": "NOPE9", "name": "x"})[0] == 404
        assert s.call("POST", "/api/rooms/join", {"code": "tide7", "name": ""})[0] == 400
        status, guest = s.call("POST", "/api/rooms/join", {"code": "tide7", "name": "Table 3"})
        assert status == 200 and not guest["facilitator"]
        status, run = s.call("POST", "/api/runs", {"scenario": "exchange_demo", "set": {"exchange.agents": 100, "sim.steps": 20},
                                                   "speed": 0}, guest["token"])
        s.wait(guest["token"], run["id"])
        assert s.call("POST", f"/api/runs/{run['id']}/save", {"label": "baseline", "set": {"exchange.agents": "100"}},
                      guest["token"])[0] == 201
        assert s.call("GET", "/api/rooms/TIDE7", token=guest["token"])[0] == 403
        # A long name is cut without splitting a character.
        status, long_name = s.call("POST", "/api/rooms/join", {"code": "TIDE7", "name": "x" * 39 + "é"})
        assert status == 200 and long_name["name"] == "x" * 39
        status, room = s.call("GET", "/api/rooms/TIDE7", token=fac["token"])
        assert status == 200 and room["participants"] == ["facilitator", "Table 3", "x" * 39]
        [saved] = room["saved"]
        assert saved["participant"] == "Table 3" and saved["label"] == "baseline" and len(saved["run"]["records"]) == 5
    finally:
        s.stop()


@pytest.mark.parametrize("args,message", [
    (["--host", "0.0.0.0"], "give a room code with --room"),
    (["--host", "0.0.0.0", "--room", "ab"], "4 to 12 letters or digits"),
    (["--port", "70000"], "out of range"),
    (["--max-runs", "0"], "at least 1"),
    (["--scenario", "missing.ini"], "missing.ini"),
    (["--bogus"], "unrecognised option"),
])
def test_bad_options_exit_2_with_a_message(args, message):
    result = subprocess.run([str(BINARY), "serve", *args], capture_output=True, text=True, timeout=30, cwd=SOURCE_DIR)
    assert result.returncode == 2 and message in result.stderr, result.stderr
