"""tools/run.sh (what `make run` starts): the whole system in the
foreground, and a Ctrl-C (SIGINT to its process group) that leaves no
process behind."""
import os
import signal
import subprocess

import requests

from lbstack import count_replica_processes
from lbtest import BUILD, SAN_ENV, ROOT, free_port, wait_for


def test_run_script_starts_all_and_ctrl_c_stops_all(tmp_path):
    port = free_port()
    instance = "run" + os.urandom(3).hex()
    env = dict(os.environ, **SAN_ENV, LB_PORT=str(port),
               LB_ADMIN_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_PUB_URL=f"tcp://127.0.0.1:{free_port()}",
               LB_STATE_DIR=str(tmp_path / "state"), LB_INSTANCE=instance)
    log = open(tmp_path / "run.log", "wb")
    p = subprocess.Popen([os.path.join(ROOT, "tools", "run.sh"), BUILD],
                         env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        def serving():
            r = requests.get(f"http://127.0.0.1:{port}/rep", timeout=2)
            return r.status_code == 200 and r.json()["message"] == {
                "N": 3, "replicas": ["server1", "server2", "server3"]}
        wait_for(serving, 15, what="make run's stack serving")
        assert requests.get(f"http://127.0.0.1:{port}/home",
                            timeout=5).status_code == 200
        assert count_replica_processes(instance) == 3
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C does
        assert p.wait(20) == 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        log.close()
    # No replica (each runs in a session of its own) ...
    assert count_replica_processes(instance) == 0
    # ... and nothing of the script's process group (the two planes).
    try:
        os.killpg(p.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
