/* PID 1 of the sandbox's hot-plug test guest: say "ready" on the serial
 * console, then do nothing, forever. By the time init runs the kernel
 * answers PCI hot-plug and hot-unplug (ACPI) itself, which is all the
 * vm_interface tests need from a guest OS; the tests wait for "ready"
 * before they detach anything. */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	static const char msg[] = "kvmnet-os-guest: ready\n";
	int fd;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
	fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY);
	if (fd >= 0) {
		(void)!write(fd, msg, sizeof msg - 1);
		close(fd);
	}
	for (;;)
		pause();
}
