"""Settings renamed so that each word means one thing (LB_ADMIN_URL ->
LB_CTL_URL: the control server between the planes; LB_ADMIN_LISTEN ->
LB_PAGES_LISTEN: the data plane's own pages) still work under their former
names, variable or flag, and each use is logged once at start."""
import requests

from lbtest import Proc, binary, free_port, wait_for


def log_text(path):
    with open(path) as f:
        return f.read()


def test_former_names_still_work_and_are_warned(stack_factory):
    s = stack_factory()
    s.cp_env["LB_ADMIN_URL"] = s.cp_env.pop("LB_CTL_URL")
    s.start_cp()
    port, pages = free_port(), free_port()
    log = str(s.tmp / "dp-former.log")
    dp = Proc([binary("dataplane/lb-dataplane"),
               f"--admin-listen=127.0.0.1:{pages}"],
              {"LB_ADMIN_URL": s.ctl_url, "LB_PUB_URL": s.pub_url,
               "LB_PORT": str(port), "LB_HOST": "127.0.0.1"}, log)
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/rep",
                                      timeout=2).status_code == 200,
                 10, what="/rep through the former LB_ADMIN_URL")
        r = requests.get(f"http://127.0.0.1:{pages}/metrics", timeout=2)
        assert r.status_code == 200 and "lb_requests_total" in r.text
        dp_log = log_text(log)
        assert "event=setting_renamed old=LB_ADMIN_URL new=LB_CTL_URL" in \
            dp_log, dp_log
        assert "old=--admin-listen new=--pages-listen" in dp_log, dp_log
        assert "old=LB_ADMIN_URL new=LB_CTL_URL" in log_text(s.logs[0])
    finally:
        dp.stop()


def test_new_names_are_not_warned(stack):
    for path in stack.logs:
        assert "setting_renamed" not in log_text(path), path


def test_the_new_name_wins_and_the_former_one_is_said_ignored(stack_factory):
    s = stack_factory()
    # A former name that points nowhere: were it read, nothing would
    # answer on the new one.
    s.cp_env["LB_ADMIN_URL"] = f"tcp://127.0.0.1:{free_port()}"
    s.dp_env = {"LB_ADMIN_URL": s.cp_env["LB_ADMIN_URL"]}
    s.start()
    assert s.rep()["message"]["N"] == 3
    for path in s.logs:
        text = log_text(path)
        assert "old=LB_ADMIN_URL new=LB_CTL_URL" in text, path
        assert "LB_ADMIN_URL is ignored: LB_CTL_URL is set" in text, path
        assert "is read for now" not in text, path
