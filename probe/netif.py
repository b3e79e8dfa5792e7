"""The IPv4 address of a network interface, for tools that bind to an address, not a device.

iperf3 binds to a device (``--bind-dev``, SO_BINDTODEVICE), which fixes the way out whatever
the routing table says. speedtest-cli can only bind a source address (``--source``): its traffic
leaves through that modem only when the host routes by source address (one ``ip rule from ADDR
table N`` per modem; NetworkManager's ``ipv4.route-table`` does this). `interface_ipv4` asks the
kernel directly (``SIOCGIFADDR``), without a subprocess.

Example
-------
>>> interface_ipv4("lo")
'127.0.0.1'
>>> interface_ipv4("no-such-if0") is None
True
"""

from __future__ import annotations

import fcntl
import socket
import struct
from typing import Final

__all__ = ["interface_ipv4"]

_SIOCGIFADDR: Final = 0x8915
_IFNAMSIZ: Final = 16


def interface_ipv4(name: str) -> str | None:
    """The interface's (first) IPv4 address; None when it has none or does not exist."""
    if not name or len(name.encode()) >= _IFNAMSIZ:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()))
        except OSError:  # ENODEV: no such interface; EADDRNOTAVAIL: no IPv4 address
            return None
    return socket.inet_ntoa(answer[20:24])
