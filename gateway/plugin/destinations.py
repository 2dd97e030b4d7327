"""Addresses the gateway must never send a request to, however a URL spells them.

A link-local or cloud metadata address (169.254.169.254 on AWS, GCP and Azure, fd00:ec2::254 on
AWS) answers with the machine's own credentials; a URL that names one, even in disguise (an
IPv4-mapped IPv6 address, a 6to4 or NAT64 form, `2852039166` or `0xa9fea9fe` for 169.254.169.254,
the metadata service's host names), is refused at start-up. Only what the URL itself says is
checked: a host name that resolves there is the DNS operator's doing, and is not looked up.
"""

from __future__ import annotations

import ipaddress
import socket

# Names that only ever mean a metadata service (GCP's, and EC2's instance-data).
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),  # AWS, over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden_host(host: str | None) -> bool:
    """Whether `host` (a URL's host name, without brackets) is link-local or a metadata service."""
    if not host:
        return False
    name = host.strip().rstrip(".").lower()
    if name in _METADATA_NAMES:
        return True
    return any(_forbidden(address) for address in _addresses(name))


def _forbidden(address: Address) -> bool:
    return address.is_link_local or address in _METADATA_ADDRESSES


def _addresses(name: str) -> list[Address]:
    """The address `name` spells, with every IPv4 address an IPv6 one embeds."""
    literal = _literal(name)
    if literal is None:
        return []
    found: list[Address] = [literal]
    if isinstance(literal, ipaddress.IPv6Address):
        if literal.ipv4_mapped is not None:
            found.append(literal.ipv4_mapped)
        if literal.sixtofour is not None:
            found.append(literal.sixtofour)
        if literal.teredo is not None:
            found.extend(literal.teredo)
        if literal in _NAT64 or (literal in _IPV4_COMPATIBLE and int(literal) > 1):
            found.append(ipaddress.IPv4Address(int(literal) & 0xFFFFFFFF))
    return found


def _literal(name: str) -> Address | None:
    try:
        return ipaddress.ip_address(name.partition("%")[0])  # an IPv6 zone (%eth0) names no other address
    except ValueError:
        pass
    # What the resolver (inet_aton) also reads as IPv4: 2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518.
    if name and all(char in "0123456789abcdefx." for char in name) and name[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None
