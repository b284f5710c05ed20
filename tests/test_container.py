import pytest

from sggic import container
from sggic.container import Header
from sggic.errors import BitstreamError

H = Header(width=512, height=341, codec_id=1, quality=57, flags=container.FLAG_GRAYSCALE, restorer_id=2, seed=7)


def test_round_trip_with_and_without_semantics():
    for sem in (None, b"\x01\x02semantic"):
        data = container.write(H, b"base-bytes" * 30, sem)
        f = container.read(data)
        assert f.header.width == 512 and f.header.height == 341
        assert f.header.codec_id == 1 and f.header.quality == 57 and f.header.seed == 7
        assert f.header.grayscale and f.header.restorer_id == 2
        assert f.base == b"base-bytes" * 30
        assert f.semantics == sem
        assert sum(f.section_sizes.values()) == len(data)


def test_framing_is_small():
    data = container.write(H, b"x" * 600, b"y" * 40)
    assert len(data) - 640 <= 30


def test_base_size_rounds_up():
    assert Header(513, 7, 1, 0).base_size == (257, 4)


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 10, 20, 100, 300])
def test_every_truncation_is_detected(cut):
    data = container.write(H, b"b" * 300, b"s" * 20)
    with pytest.raises(BitstreamError):
        container.read(data[: len(data) - cut])


def test_every_single_bit_flip_is_detected():
    data = container.write(H, bytes(range(200)), b"sem")
    for i in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises(BitstreamError):
                container.read(bytes(bad))


def test_foreign_and_empty_files():
    for data in (b"", b"SG", b"\x89PNG\r\n\x1a\n" + b"0" * 50, b"SGC\x09" + b"0" * 20):
        with pytest.raises(BitstreamError):
            container.read(data)


def test_allocation_bounds():
    # a section claiming 2^30 bytes must be rejected before anything is allocated
    bogus = container.MAGIC + bytes([container.VERSION, container.SEC_HEADER]) + b"\x80\x80\x80\x80\x04"
    with pytest.raises(BitstreamError):
        container.read(bogus)
    with pytest.raises(BitstreamError):
        container.write(Header(70000, 10, 1, 0), b"x")
    with pytest.raises(BitstreamError):
        container.write(Header(20000, 20000, 1, 0), b"x")


def test_unknown_ancillary_section_is_skipped_critical_is_not():
    data = container.write(H, b"base")
    anc = container._section(0x90, b"future")
    f = container.read(data + anc)
    assert f.base == b"base"
    with pytest.raises(BitstreamError):
        container.read(data + container._section(0x10, b"future"))
