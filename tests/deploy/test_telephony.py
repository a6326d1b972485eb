"""The Asterisk dialplan and Kamailio dispatcher configuration for SIP at scale."""

from __future__ import annotations

import re

from tests.deploy.artefacts import (
    DEPLOY,
)

# --- telephony ----------------------------------------------------------------------------------


def test_asterisk_dialplan_hands_calls_to_audiosocket() -> None:
    text = (DEPLOY / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    context = text.split("\n[hotline-inbound]\n", 1)[1].split("\n[", 1)[0]
    apps = []
    for line in context.splitlines():
        keyword, arrow, step = line.strip().partition("=>")
        if arrow:  # exten => pattern,priority,App(...)  /  same => priority,App(...)
            fields = 2 if keyword.strip() == "exten" else 1
            apps.append(step.strip().split(",", fields)[fields])
    answer = next(i for i, app in enumerate(apps) if app.startswith("Answer("))
    socket = next(i for i, app in enumerate(apps) if app.startswith("AudioSocket("))
    assert answer < socket
    assert apps[socket].startswith("AudioSocket(${CALLID},")
    assert "/proc/sys/kernel/random/uuid" in context
    assert "HOTLINE_VOICE=voice-lb:9092" in text
    assert "/api/v1/voice/calls/${CALLID}" in context
    assert '"transferred"' in context and "operators,s,1" in context


def test_kamailio_dispatches_with_health_pings_and_failover() -> None:
    cfg = (DEPLOY / "kamailio" / "kamailio.cfg").read_text(encoding="utf-8")
    code = "\n".join(line for line in cfg.splitlines() if not line.lstrip().startswith("#"))
    assert 'loadmodule "dispatcher.so"' in code
    assert 'modparam("dispatcher", "ds_ping_method", "OPTIONS")' in code
    assert re.search(r'ds_select_dst\("1", "(4|9|10)"\)', code)
    assert "ds_next_dst()" in code and "failure_route[" in code
    assert code.count("{") == code.count("}")
    entries = [
        line.split()
        for line in (DEPLOY / "kamailio" / "dispatcher.list").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(entries) >= 2
    assert all(entry[0] == "1" and entry[1].startswith("sip:") for entry in entries)
