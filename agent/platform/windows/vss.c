/* Shadow copies for backups (vss.h), through VSS's C interface. */
#include "agent/platform/windows/vss.h"

#include <errno.h>
#include <stdio.h>
#include <wchar.h>

#include <vss.h>
#include <vswriter.h>
#include <vsbackup.h>

#include "common/alloc.h"

struct vss_snapshot {
	IVssBackupComponents *bc;
	VSS_ID id;
	wchar_t volume[MAX_PATH];  /* "C:\" */
	wchar_t device[MAX_PATH];  /* \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN */
};

/* Waits for one of VSS's asynchronous steps and takes its result. */
static HRESULT finish(HRESULT hr, IVssAsync *async)
{
	if (FAILED(hr) || async == NULL)
		return hr;
	HRESULT status = E_FAIL;
	hr = async->lpVtbl->Wait(async, INFINITE);
	if (SUCCEEDED(hr))
		hr = async->lpVtbl->QueryStatus(async, &status, NULL);
	async->lpVtbl->Release(async);
	return FAILED(hr) ? hr : status == VSS_S_ASYNC_FINISHED ? S_OK : status;
}

int vss_snapshot_open(const wchar_t *path, struct vss_snapshot **out,
		      char *why, size_t whylen)
{
	struct vss_snapshot *s = alloc_zeroed(1, sizeof(*s));
	const char *step = "GetVolumePathName";
	IVssAsync *async = NULL;
	VSS_ID set;
	HRESULT hr = E_FAIL;
	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	if (!GetVolumePathNameW(path, s->volume, MAX_PATH)) {
		hr = HRESULT_FROM_WIN32(GetLastError());
		goto fail;
	}
	step = "CoInitializeEx";
	hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
	if (FAILED(hr) && hr != RPC_E_CHANGED_MODE)
		goto fail;
	step = "CreateVssBackupComponents (is the agent SYSTEM?)";
	if (FAILED(hr = CreateVssBackupComponentsInternal(&s->bc)))
		goto fail;
	IVssBackupComponentsVtbl *v = s->bc->lpVtbl;
	step = "InitializeForBackup";
	if (FAILED(hr = v->InitializeForBackup(s->bc, NULL)))
		goto fail;
	step = "SetContext";
	if (FAILED(hr = v->SetContext(s->bc, VSS_CTX_BACKUP)))
		goto fail;
	/* A copy backup: writers' own backup history is left alone. */
	step = "SetBackupState";
	if (FAILED(hr = v->SetBackupState(s->bc, FALSE, FALSE, VSS_BT_COPY,
					  FALSE)))
		goto fail;
	step = "GatherWriterMetadata";
	if (FAILED(hr = finish(v->GatherWriterMetadata(s->bc, &async), async)))
		goto fail;
	step = "StartSnapshotSet";
	if (FAILED(hr = v->StartSnapshotSet(s->bc, &set)))
		goto fail;
	step = "AddToSnapshotSet (a volume VSS cannot snapshot, e.g. FAT?)";
	if (FAILED(hr = v->AddToSnapshotSet(s->bc, s->volume, GUID_NULL,
					    &s->id)))
		goto fail;
	step = "PrepareForBackup";
	async = NULL;
	if (FAILED(hr = finish(v->PrepareForBackup(s->bc, &async), async)))
		goto fail;
	step = "DoSnapshotSet";
	async = NULL;
	if (FAILED(hr = finish(v->DoSnapshotSet(s->bc, &async), async)))
		goto fail;
	VSS_SNAPSHOT_PROP prop;
	step = "GetSnapshotProperties";
	if (FAILED(hr = v->GetSnapshotProperties(s->bc, s->id, &prop)))
		goto fail;
	swprintf(s->device, MAX_PATH, L"%ls", prop.m_pwszSnapshotDeviceObject);
	VssFreeSnapshotProperties(&prop);
	*out = s;
	return 0;
fail:
	snprintf(why, whylen, "no shadow copy: %s failed (0x%08lx)", step,
		 (unsigned long)hr);
	vss_snapshot_free(s);
	return -ENOTSUP;
}

void vss_snapshot_free(struct vss_snapshot *snap)
{
	if (snap == NULL)
		return;
	if (snap->bc)
		snap->bc->lpVtbl->Release(snap->bc);
	alloc_free(snap);
}

int vss_map_path(const wchar_t *device, const wchar_t *volume,
		 const wchar_t *path, wchar_t *out, size_t cap)
{
	size_t vlen = wcslen(volume);
	if (vlen == 0 || _wcsnicmp(path, volume, vlen) != 0)
		return -EXDEV;
	/* volume ends in '\', the device does not: keep one separator. */
	int n = swprintf(out, cap, L"%ls\\%ls", device, path + vlen);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

HANDLE vss_open(const struct vss_snapshot *snap, const wchar_t *path,
		char *why, size_t whylen)
{
	wchar_t shadow[MAX_PATH * 2];
	const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE |
			    FILE_SHARE_DELETE;
	if (snap == NULL) {
		snprintf(why, whylen, "read live: no shadow copy");
	} else if (vss_map_path(snap->device, snap->volume, path, shadow,
				MAX_PATH * 2) != 0) {
		snprintf(why, whylen, "read live: not on the snapshot's volume");
	} else {
		why[0] = '\0';
		return CreateFileW(shadow, GENERIC_READ, share, NULL,
				   OPEN_EXISTING,
				   FILE_FLAG_BACKUP_SEMANTICS |
					   FILE_FLAG_OPEN_REPARSE_POINT,
				   NULL);
	}
	return CreateFileW(path, GENERIC_READ, share, NULL, OPEN_EXISTING,
			   FILE_FLAG_BACKUP_SEMANTICS |
				   FILE_FLAG_OPEN_REPARSE_POINT,
			   NULL);
}
