"""The UART boot loader: its firmware (``fw/boot.c``) and the host side of its protocol.

``gluon build --firmware boot`` puts the loader in the bitstream; ``gluon load --port DEV
app.elf`` then sends a program over the board's USB serial port and starts it, with no new
bitstream. The loader sits in the top :data:`BOOT_SIZE` bytes of RAM (its stack included), so
every program linked at 0x8000_0000 that leaves those bytes alone can be loaded.

Protocol (all numbers little-endian; the firmware's header comment is the other half)::

    "GLB" 'P'                                    -> 'K' boot_base:u32 ram_size:u32
    "GLB" 'W' addr:u32 len:u32 data crc32:u32    -> 'K' | 'E' code
    "GLB" 'G' entry:u32                          -> 'K' (then the program runs) | 'E' code

Error codes: ``A`` address outside [RAM base, boot_base) (or a misaligned entry), ``C`` CRC
mismatch, ``T`` the frame stopped for 0.25 s (a lost byte).
"""

import os
import struct
import time
import zlib
from pathlib import Path

from gluon.firmware.elf import load_elf, LoadError
from gluon.hdl.soc import RAM_BASE
from .firmware import FW_DIR, compile_bare


__all__ = ["BOOT_SIZE", "BootError", "build_loader", "ping_frame", "write_frames", "go_frame",
           "Loader", "SerialPort"]

BOOT_SIZE = 2048            # bytes at the top of RAM: loader code (~1.3 KiB), data and stack
CHUNK = 256                 # data bytes per 'W' frame (the loader checks each one's CRC)
MAGIC = b"GLB"
ERRORS = {b"A": "address outside the loadable RAM (below the boot loader)",
          b"C": "CRC mismatch (bytes corrupted on the line)",
          b"T": "the frame stopped half-way (a byte was lost)"}


class BootError(Exception):
    """A load that did not happen; the message says why."""


def build_loader(out_dir, *, ram_size):
    """Compile the boot loader for a RAM of ``ram_size`` bytes; returns the ELF's path."""
    if ram_size < 2 * BOOT_SIZE:
        raise LoadError(f"{ram_size} bytes of RAM leave no room for programs beside the "
                        f"{BOOT_SIZE}-byte boot loader")
    out = Path(out_dir) / "boot.elf"
    return compile_bare([FW_DIR / "start.S", FW_DIR / "boot.c"], out, ram_size=ram_size,
                        link_script="boot.ld", symbols={"__boot_size": BOOT_SIZE},
                        defines=["BOOT_LOADER"])


def ping_frame():
    return MAGIC + b"P"


def write_frames(segments, chunk=CHUNK):
    """'W' frames loading ``segments`` ([(address, bytes)]), ``chunk`` bytes at most each."""
    for addr, data in segments:
        for off in range(0, len(data), chunk):
            part = bytes(data[off:off + chunk])
            yield (MAGIC + b"W" + struct.pack("<II", addr + off, len(part)) + part
                   + struct.pack("<I", zlib.crc32(part)))


def go_frame(entry):
    return MAGIC + b"G" + struct.pack("<I", entry)


class Loader:
    """The host side over a byte ``port`` with ``write(bytes)`` and ``read(n, timeout) -> bytes``
    (fewer bytes on a timeout)."""

    def __init__(self, port, *, timeout=2.0, log=None):
        self.port, self.timeout, self.log = port, timeout, log or (lambda msg: None)

    def _reply(self, what, extra=0):
        r = self.port.read(1, self.timeout)
        if r == b"K":
            data = self.port.read(extra, self.timeout) if extra else b""
            if len(data) != extra:
                raise BootError(f"{what}: the reply was cut short")
            return data
        if r == b"E":
            code = self.port.read(1, self.timeout)
            raise BootError(f"{what}: the boot loader refused it: "
                            f"{ERRORS.get(code, f'unknown error code {code!r}')}")
        if not r:
            raise BootError(f"{what}: no answer from the boot loader within {self.timeout:g} s "
                            f"(is the board running it? `gluon build --firmware boot`)")
        raise BootError(f"{what}: unexpected reply {r!r} (is the port running at the right baud "
                        f"rate, with the boot loader?)")

    def ping(self):
        """(boot_base, ram_size) of the loader at the other end. Bytes before the answer (the
        loader's banner after a reset, a previous program's output) are skipped."""
        self.port.write(ping_frame())
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            r = self.port.read(1, max(end - time.monotonic(), 0.001))
            if r == b"K":
                data = self.port.read(8, self.timeout)
                if len(data) == 8:
                    return struct.unpack("<II", data)
                break
        raise BootError(f"ping: no answer from the boot loader within {self.timeout:g} s "
                        f"(is the board running it? `gluon build --firmware boot`; the right "
                        f"port and baud rate?)")

    def load(self, elf_path):
        """Load and start the ELF at ``elf_path``; returns the number of bytes sent."""
        boot_base, ram_size = self.ping()
        try:
            elf = load_elf(elf_path, ram_base=RAM_BASE, ram_size=boot_base - RAM_BASE)
        except LoadError as e:
            raise BootError(f"{elf_path}: {e} (the boot loader keeps the top {BOOT_SIZE} bytes "
                            f"of the {ram_size // 1024} KiB RAM: load below {boot_base:#010x})")
        sent = 0
        total = sum(len(d) for _a, d in elf.segments)
        for frame in write_frames(elf.segments):
            self.port.write(frame)
            addr, n = struct.unpack_from("<II", frame, 4)
            self._reply(f"block at {addr:#010x}")
            sent += n
            self.log(f"loaded {sent}/{total} bytes")
        self.port.write(go_frame(elf.entry))
        self._reply(f"start at {elf.entry:#010x}")
        return sent


class SerialPort:
    """A serial device in raw 8N1 mode (pyserial), with the byte-port interface of
    :class:`Loader`."""

    def __init__(self, path, baud=115200):
        import errno
        import serial
        try:
            self.port = serial.Serial(path, baud, bytesize=8, parity="N", stopbits=1, timeout=0)
        except ValueError as e:
            raise BootError(f"{baud}: {e}") from None
        except serial.SerialException as e:
            err = getattr(e, "errno", None)
            if err == errno.ENOTTY or "ioctl" in str(e):
                raise BootError(f"{path} is not a serial port") from None
            if err is not None:
                raise BootError(f"cannot open {path}: {os.strerror(err)}") from None
            raise BootError(f"cannot open {path}: {e}") from None
        self.port.reset_input_buffer()
        self.port.reset_output_buffer()

    def write(self, data):
        self.port.write(data)
        self.port.flush()

    def read(self, n, timeout):
        out, end = bytearray(), time.monotonic() + timeout
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.port.timeout = left
            out += self.port.read(n - len(out))
        return bytes(out)

    def close(self):
        self.port.close()
