"""A minimal SNMPv1/v2c agent for the simulated devices: GetRequest of sysDescr.0 and sysName.0 (and sysObjectID.0,
sysUpTime.0), answered only when the community is one the device's configuration holds (`access.community_allows`);
anything else, a wrong community included, gets no answer at all, as from a real agent.

The messages are BER (X.690) written by hand: SEQUENCE { version, community, PDU { request-id, error-status,
error-index, varbinds } }.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger("devsim")

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
GET, GET_NEXT, RESPONSE, SET = 0xA0, 0xA1, 0xA2, 0xA3
INTEGER, OCTETS, NULL, OID, SEQUENCE, TIMETICKS = 0x02, 0x04, 0x05, 0x06, 0x30, 0x43
NO_SUCH_OBJECT = 0x80
NO_SUCH_NAME = 2  # SNMPv1 error-status


class BerError(ValueError):
    pass


# --- encoding --------------------------------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def integer(value: int, tag: int = INTEGER) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=tag == INTEGER))


def octets(value: bytes) -> bytes:
    return tlv(OCTETS, value)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        rest = part >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


# --- decoding --------------------------------------------------------------------------------------------------------
def read_tlv(data: bytes, at: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, offset after it) of the TLV at `at`."""
    if at + 2 > len(data):
        raise BerError("truncated")
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        size = first & 0x7F
        if not 0 < size <= 4 or at + size > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[at:at + size], "big")
        at += size
    else:
        length = first
    if at + length > len(data):
        raise BerError("truncated")
    return tag, data[at:at + length], at + length


def items(data: bytes) -> list[tuple[int, bytes]]:
    found, at = [], 0
    while at < len(data):
        tag, value, at = read_tlv(data, at)
        found.append((tag, value))
    return found


def dotted(value: bytes) -> str:
    if not value:
        raise BerError("empty OID")
    parts = [value[0] // 40, value[0] % 40]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(p) for p in parts)


def parse(message: bytes) -> tuple[int, bytes, int, int, list[str]]:
    """(version, community, PDU tag, request-id, OIDs asked for) of an SNMPv1/v2c message."""
    tag, body, _ = read_tlv(message)
    if tag != SEQUENCE:
        raise BerError("not a SEQUENCE")
    parts = items(body)
    if len(parts) != 3 or parts[0][0] != INTEGER or parts[1][0] != OCTETS:
        raise BerError("not SNMPv1/v2c")
    version = int.from_bytes(parts[0][1], "big")
    pdu_tag, pdu = parts[2]
    fields = items(pdu)
    if len(fields) != 4 or fields[3][0] != SEQUENCE:
        raise BerError("bad PDU")
    request_id = int.from_bytes(fields[0][1], "big", signed=True)
    names = []
    for vb_tag, varbind in items(fields[3][1]):
        pair = items(varbind)
        if vb_tag != SEQUENCE or not pair or pair[0][0] != OID:
            raise BerError("bad varbind")
        names.append(dotted(pair[0][1]))
    return version, parts[1][1], pdu_tag, request_id, names


def response(version: int, community: bytes, request_id: int, values: list[tuple[str, bytes | None]]) -> bytes:
    """GetResponse: each (OID, encoded value); None is noSuchObject (v2c) or noSuchName (v1, whole request)."""
    error_status = error_index = 0
    varbinds = b""
    for index, (name, value) in enumerate(values, start=1):
        encoded = value
        if encoded is None:
            if version == 0:
                error_status, error_index = error_status or NO_SUCH_NAME, error_index or index
                encoded = tlv(NULL, b"")
            else:
                encoded = tlv(NO_SUCH_OBJECT, b"")
        varbinds += tlv(SEQUENCE, oid(name) + encoded)
    pdu = tlv(RESPONSE, integer(request_id) + integer(error_status) + integer(error_index) + tlv(SEQUENCE, varbinds))
    return tlv(SEQUENCE, integer(version) + octets(community) + pdu)


# --- the agent ---------------------------------------------------------------------------------------------------------
class Agent:
    """Answers SNMP GetRequests on one UDP port of loopback for one device, until `stop()`.

    `allows(community, source)` decides whether to answer; `values()` gives the MIB-II system group as OID -> value.
    """

    def __init__(self, name: str, port: int, allows: Callable[[str, str], bool], values: Callable[[], dict[str, bytes]],
                 host: str = "127.0.0.1"):
        self.name = name
        self.allows = allows
        self.values = values
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True, name=f"snmp-{name}").start()

    def stop(self) -> None:
        self.sock.close()

    def answer(self, message: bytes, source: str) -> bytes | None:
        try:
            version, community, pdu_tag, request_id, names = parse(message)
        except (BerError, IndexError, ValueError):
            return None  # not SNMPv1/v2c (SNMPv3, garbage): silently dropped
        if version not in (0, 1) or pdu_tag != GET:
            return None
        if not self.allows(community.decode(errors="replace"), source):
            log.info("%s: SNMP request from %s with an unknown community dropped", self.name, source)
            return None  # an agent says nothing to a wrong community (it counts snmpInBadCommunityNames)
        known = self.values()
        return response(version, community, request_id, [(name, known.get(name)) for name in names])

    def _serve(self) -> None:
        while True:
            try:
                message, (address, port) = self.sock.recvfrom(65535)
            except OSError:
                return
            reply = self.answer(message, address)
            if reply is not None:
                try:
                    self.sock.sendto(reply, (address, port))
                except OSError:
                    return


def system_group(descr: str, name: str, object_id: str, uptime_ticks: int) -> dict[str, bytes]:
    return {SYS_DESCR: octets(descr.encode()), SYS_OBJECT_ID: oid(object_id), SYS_UPTIME: integer(uptime_ticks, TIMETICKS),
            SYS_NAME: octets(name.encode())}
