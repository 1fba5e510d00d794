"""A tiny Linux guest built from Debian packages alone, for the demo and the tests.

The kernel comes from ``linux-image-cloud-amd64`` (virtio drivers are modules
there), the initramfs and the root tree from ``busybox-static``. The initramfs
loads the virtio modules, mounts the root device named by ``root=`` and
switches to it; the root tree's ``/sbin/init`` prints what it finds on the
serial console, so a test learns what the guest saw by reading the console log.

Everything the root tree prints starts with ``vmim-guest:``:

- ``marker <text>``: the contents of ``/etc/vmim-marker`` (which image this is);
- ``found <path> <text>``: ``/root/note``, when present (files laid over the image);
- ``wrote /root/guest-wrote``: when ``/etc/vmim-write`` asked the guest to write;
- ``ready``: userspace is up; the guest then waits for the ACPI power button
  (``vmim.acpi=ignore`` on the kernel command line makes it ignore the button)
  or powers off at once with ``vmim.then=poweroff``.
"""

from __future__ import annotations

import gzip
import io
import shutil
import stat
import tempfile
from pathlib import Path

from vmim.errors import ToolError
from vmim.run import run

DEFAULT_CACHE = Path("/var/cache/vmim/testguest")
KERNEL_PACKAGE = "linux-image-cloud-amd64"
READY_LINE = "vmim-guest: ready"
MODULES = (
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci",
    "drivers/block/virtio_blk",
    "drivers/input/evdev",
    "drivers/acpi/button",
)
BUSYBOX = Path("/bin/busybox")

INITRAMFS_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {modules}; do insmod /lib/modules/$m.ko 2>/dev/null; done
root=/dev/vda1
fstype=ext4
for a in $(cat /proc/cmdline); do
  case $a in root=*) root=${{a#root=}};; rootfstype=*) fstype=${{a#rootfstype=}};; esac
done
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t "$fstype" "$root" /newroot || {{ echo "vmim-guest: cannot mount $root"; poweroff -f; }}
exec switch_root /newroot /sbin/init
"""

ROOT_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev 2>/dev/null
echo "vmim-guest: marker $(cat /etc/vmim-marker 2>/dev/null)"
[ -f /root/note ] && echo "vmim-guest: found /root/note $(cat /root/note)"
[ -f /root/guest-wrote ] && echo "vmim-guest: found /root/guest-wrote $(cat /root/guest-wrote)"
if [ -f /etc/vmim-write ]; then
  cat /etc/vmim-write > /root/guest-wrote
  sync
  echo "vmim-guest: wrote /root/guest-wrote"
fi
echo "vmim-guest: ready"
case " $(cat /proc/cmdline) " in
  *" vmim.then=poweroff "*) sync; poweroff -f ;;
  *" vmim.acpi=ignore "*) ;;
  *) acpid -d -c /etc/acpi -a /etc/acpid.conf > /dev/console 2>&1 & ;;
esac
while true; do sleep 3600; done
"""

POWER_BUTTON = """#!/bin/sh
echo "vmim-guest: power button, powering off"
sync
poweroff -f
"""


class TestGuest:
    """Paths of the cached kernel and initramfs."""

    __test__ = False  # not a pytest test class

    def __init__(self, cache: Path = DEFAULT_CACHE) -> None:
        self.cache = cache
        self.kernel = cache / "vmlinuz"
        self.initrd = cache / "initrd.img"

    @property
    def built(self) -> bool:
        return self.kernel.is_file() and self.initrd.is_file()

    def build(self) -> TestGuest:
        """Download the kernel package and make the initramfs, unless cached."""
        if self.built:
            return self
        self.cache.mkdir(parents=True, exist_ok=True)
        # Other users (libvirt's qemu) must read the kernel and initramfs.
        for folder in (self.cache, *self.cache.parents):
            if folder == Path("/"):
                break
            folder.chmod(folder.stat().st_mode | 0o055)
        with tempfile.TemporaryDirectory(dir=self.cache) as scratch:
            work = Path(scratch)
            Path(work).chmod(0o755)
            run(["apt-get", "download", KERNEL_PACKAGE], cwd=work, timeout=600)
            meta = next(work.glob(f"{KERNEL_PACKAGE}_*.deb"))
            depends = run(["dpkg-deb", "-f", meta, "Depends"]).stdout
            image_package = depends.split(",")[0].split()[0].strip()
            run(["apt-get", "download", image_package], cwd=work, timeout=600)
            deb = next(work.glob(f"{image_package}_*.deb"))
            tree = work / "tree"
            run(["dpkg-deb", "-x", deb, tree], timeout=600)
            kernel = next((tree / "boot").glob("vmlinuz-*"))
            release = kernel.name.removeprefix("vmlinuz-")
            modules = tree / "lib" / "modules" / release / "kernel"
            initrd = _initramfs(modules)
            shutil.copyfile(kernel, work / "vmlinuz")
            (work / "initrd.img").write_bytes(initrd)
            Path(work / "vmlinuz").chmod(0o644)
            Path(work / "initrd.img").chmod(0o644)
            Path(work / "initrd.img").replace(self.initrd)
            Path(work / "vmlinuz").replace(self.kernel)
        return self


def _initramfs(modules: Path) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for folder in ("bin", "dev", "proc", "sys", "newroot", "lib/modules"):
            (root / folder).mkdir(parents=True)
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        names = []
        for module in MODULES:
            source = modules / f"{module}.ko"
            if not source.exists():
                raise ToolError(f"kernel module {source} missing from {KERNEL_PACKAGE}")
            shutil.copyfile(source, root / "lib" / "modules" / source.name)
            names.append(source.stem)
        init = root / "init"
        init.write_text(INITRAMFS_INIT.format(modules=" ".join(names)))
        init.chmod(0o755)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        archive = root.parent / f"{root.name}.cpio"
        run(
            ["cpio", "-o", "-H", "newc", "--quiet", "-O", archive],
            input="\n".join([".", *files]) + "\n",
            cwd=root,
        )
        try:
            data = archive.read_bytes()
        finally:
            archive.unlink()
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as out:
            out.write(data)
        return buffer.getvalue()


def make_root_tree(target: Path, marker: str, write: str | None = None) -> Path:
    """Write a busybox root tree that announces ``marker`` on the console."""
    for folder in ("bin", "sbin", "etc/acpi/PWRF", "proc", "sys", "dev", "tmp", "root"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    _script(target / "sbin" / "init", ROOT_INIT)
    _script(target / "etc" / "acpi" / "PWRF" / "00000080", POWER_BUTTON)
    (target / "etc" / "acpid.conf").write_text("PWRF PWRF/00000080\n")
    (target / "etc" / "vmim-marker").write_text(marker + "\n")
    if write is not None:
        (target / "etc" / "vmim-write").write_text(write + "\n")
    return target


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def make_disk(path: Path, tree: Path, size_mib: int = 64, partitioned: bool = True) -> Path:
    """A raw disk file holding ``tree`` in ext4: one partition at 1 MiB, or the whole disk.

    ``mke2fs -d`` fills the filesystem from the tree without mounting anything.
    """
    with path.open("wb") as disk:
        disk.truncate(size_mib * 1024 * 1024)
    if partitioned:
        run(["sfdisk", "-q", path], input="start=2048, type=83\n", timeout=60)
        offset = 1024 * 1024
        run(
            [
                "mke2fs",
                "-q",
                "-F",
                "-t",
                "ext4",
                "-E",
                f"offset={offset}",
                "-d",
                tree,
                path,
                f"{size_mib - 1}M",
            ],
            timeout=300,
        )
    else:
        run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, path], timeout=300)
    return path
