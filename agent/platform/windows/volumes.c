/* USB arrival and quick-scan folders on Windows (volumes.h). */
#include "agent/platform/windows/volumes.h"

#include <errno.h>

#include <knownfolders.h>
#include <shlobj.h>

uint32_t volwatch_poll(struct volwatch *w, uint32_t removable_now)
{
	/* Gone letters are forgotten, so a stick put back is new again. */
	w->seen &= removable_now;
	uint32_t ready = w->pending & removable_now & ~w->seen;
	w->seen |= ready;
	w->pending = removable_now & ~w->seen;
	return ready;
}

uint32_t volumes_removable(void)
{
	return volumes_of_type(DRIVE_REMOVABLE);
}

uint32_t volumes_of_type(UINT type)
{
	DWORD present = GetLogicalDrives();
	uint32_t found = 0;
	for (int i = 0; i < 26; i++) {
		char root[4];
		wchar_t wroot[4];
		if (!(present & (1u << i)))
			continue;
		volumes_root(i, root);
		MultiByteToWideChar(CP_UTF8, 0, root, -1, wroot, 4);
		if (GetDriveTypeW(wroot) == type)
			found |= 1u << i;
	}
	return found;
}

void volumes_root(int index, char out[4])
{
	out[0] = (char)('A' + (index >= 0 && index < 26 ? index : 0));
	out[1] = ':';
	out[2] = '\\';
	out[3] = '\0';
}

int volumes_quick_folders(HANDLE token, char (*out)[VOLUMES_PATH_MAX],
			  size_t cap, size_t *n)
{
	const KNOWNFOLDERID *ids[] = {&FOLDERID_Desktop, &FOLDERID_Downloads};
	*n = 0;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]) && *n < cap; i++) {
		wchar_t *path = NULL;
		/* KF_FLAG_DONT_VERIFY: a folder the user deleted is not made
		 * again by the agent. */
		if (SHGetKnownFolderPath(ids[i], KF_FLAG_DONT_VERIFY, token,
					 &path) == S_OK &&
		    WideCharToMultiByte(CP_UTF8, 0, path, -1, out[*n],
					VOLUMES_PATH_MAX, NULL, NULL) > 0)
			(*n)++;
		CoTaskMemFree(path);
	}
	return *n > 0 ? 0 : -ENOENT;
}
