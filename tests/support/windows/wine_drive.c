/* wine_drive: gives (or takes away) a drive letter of type removable to a
 * folder while wine runs, as a USB stick's arrival, for windows_agent.sh.
 *
 *   wine wine_drive.exe LETTER UNIX_FOLDER   the letter arrives
 *   wine wine_drive.exe LETTER               the letter goes
 *
 * It asks wine's mount manager, as winecfg does
 * (IOCTL_MOUNTMGR_DEFINE_UNIX_DRIVE, wine's include/ddk/mountmgr.h); a
 * letter set in the registry is read only when the wineserver starts, so
 * it cannot arrive while the agent runs. Wine only: Windows has no such
 * call. */
#include <stdio.h>
#include <string.h>

#include <windows.h>
#include <winioctl.h>

/* wine 8's layout; the strings follow the struct. */
struct wine_unix_drive {
	ULONG size;
	ULONG type;
	ULONG fs_type;
	DWORD serial;
	ULONGLONG unix_dev;
	WCHAR letter;
	USHORT mount_point_offset;
	USHORT device_offset;
	USHORT label_offset;
};

#define WINE_DEFINE_UNIX_DRIVE                                                 \
	CTL_CODE(0x6d, 32, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS)

int main(int argc, char **argv)
{
	char buf[sizeof(struct wine_unix_drive) + 4096] = {0};
	struct wine_unix_drive *d = (struct wine_unix_drive *)buf;
	size_t len = argc > 2 ? strlen(argv[2]) + 1 : 0;
	if (argc < 2 || argc > 3 || len > 4096 || argv[1][0] < 'c' ||
	    argv[1][0] > 'y') {
		fprintf(stderr, "usage: wine_drive LETTER(c..y) [UNIX_FOLDER]\n");
		return 2;
	}
	d->size = (ULONG)(sizeof(*d) + len);
	d->type = DRIVE_REMOVABLE;
	d->letter = (WCHAR)argv[1][0];
	if (len) {
		d->mount_point_offset = sizeof(*d);
		memcpy(buf + sizeof(*d), argv[2], len);
	}
	HANDLE h = CreateFileW(L"\\\\.\\MountPointManager",
			       GENERIC_READ | GENERIC_WRITE,
			       FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
			       OPEN_EXISTING, 0, NULL);
	DWORD got = 0;
	if (h == INVALID_HANDLE_VALUE ||
	    !DeviceIoControl(h, WINE_DEFINE_UNIX_DRIVE, d, d->size, NULL, 0,
			     &got, NULL)) {
		fprintf(stderr, "wine_drive: the mount manager refused %c: "
			"(error %lu)\n", argv[1][0],
			(unsigned long)GetLastError());
		return 1;
	}
	CloseHandle(h);
	return 0;
}
