/* avprobe on Windows: SecurityCenter2 and Defender over WMI.
 *
 * NOT BUILT OR TESTED on the Linux build machine: it compiles to nothing
 * there. It is kept thin on purpose: each WMI query copies raw values
 * (productState, displayName, the Defender properties) into plain structs
 * and hands them to the decoders in avstatus.c, which are unit-tested on
 * Linux with recorded values. Build with the MinGW toolchain and link
 * -lole32 -loleaut32 -lwbemuuid. */
#ifdef _WIN32
#define COBJMACROS
#include "agent/av/avprobe.h"

#include <stdio.h>
#include <string.h>
#include <wbemidl.h>
#include <windows.h>

#include "common/timeutil.h"

static IWbemServices *connect_ns(IWbemLocator *loc, const wchar_t *ns)
{
	IWbemServices *svc = NULL;
	BSTR b = SysAllocString(ns);
	HRESULT hr = IWbemLocator_ConnectServer(loc, b, NULL, NULL, NULL, 0,
						NULL, NULL, &svc);
	SysFreeString(b);
	if (FAILED(hr))
		return NULL;
	CoSetProxyBlanket((IUnknown *)svc, RPC_C_AUTHN_WINNT, RPC_C_AUTHZ_NONE,
			  NULL, RPC_C_AUTHN_LEVEL_CALL,
			  RPC_C_IMP_LEVEL_IMPERSONATE, NULL, EOAC_NONE);
	return svc;
}

static IEnumWbemClassObject *query(IWbemServices *svc, const wchar_t *wql)
{
	IEnumWbemClassObject *en = NULL;
	BSTR lang = SysAllocString(L"WQL"), q = SysAllocString(wql);
	HRESULT hr = IWbemServices_ExecQuery(
		svc, lang, q, WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY,
		NULL, &en);
	SysFreeString(lang);
	SysFreeString(q);
	return FAILED(hr) ? NULL : en;
}

static void get_string(IWbemClassObject *o, const wchar_t *prop, char *out,
		       size_t cap)
{
	VARIANT v;
	out[0] = '\0';
	if (SUCCEEDED(IWbemClassObject_Get(o, prop, 0, &v, NULL, NULL))) {
		if (v.vt == VT_BSTR && v.bstrVal)
			WideCharToMultiByte(CP_UTF8, 0, v.bstrVal, -1, out,
					    (int)cap, NULL, NULL);
		VariantClear(&v);
	}
}

static long get_long(IWbemClassObject *o, const wchar_t *prop, long dflt)
{
	VARIANT v;
	long r = dflt;
	if (SUCCEEDED(IWbemClassObject_Get(o, prop, 0, &v, NULL, NULL))) {
		if (v.vt == VT_I4 || v.vt == VT_UI4)
			r = v.lVal;
		else if (v.vt == VT_BOOL)
			r = v.boolVal != VARIANT_FALSE;
		VariantClear(&v);
	}
	return r;
}

/* root\SecurityCenter2: AntiVirusProduct, one row per registered
 * product (workstations only; servers have no Security Center). */
static void probe_wsc(IWbemLocator *loc, struct av_report *r)
{
	IWbemServices *svc = connect_ns(loc, L"ROOT\\SecurityCenter2");
	IEnumWbemClassObject *en =
		svc ? query(svc, L"SELECT displayName, productState FROM "
				 L"AntiVirusProduct")
		    : NULL;
	IWbemClassObject *o;
	ULONG n;
	while (en && r->count < AV_MAX_PRODUCTS &&
	       IEnumWbemClassObject_Next(en, 5000, 1, &o, &n) == S_OK && n) {
		struct av_product *p = &r->products[r->count++];
		struct wsc_state ws;
		memset(p, 0, sizeof(*p));
		get_string(o, L"displayName", p->name, sizeof(p->name));
		wsc_decode_product_state((uint32_t)get_long(o, L"productState", 0),
					 &ws);
		snprintf(p->source, sizeof(p->source), "wsc");
		p->state = ws.state;
		p->realtime = ws.state == AV_ON;
		p->sig_up_to_date = ws.up_to_date;
		snprintf(p->detail, sizeof(p->detail), "signatures %s",
			 ws.up_to_date ? "up to date" : "out of date");
		IWbemClassObject_Release(o);
	}
	if (en)
		IEnumWbemClassObject_Release(en);
	if (svc)
		IWbemServices_Release(svc);
}

/* root\Microsoft\Windows\Defender: MSFT_MpComputerStatus. */
static void probe_defender(IWbemLocator *loc, struct av_report *r)
{
	IWbemServices *svc =
		connect_ns(loc, L"ROOT\\Microsoft\\Windows\\Defender");
	IEnumWbemClassObject *en =
		svc ? query(svc, L"SELECT RealTimeProtectionEnabled, "
				 L"AntivirusSignatureLastUpdated, AMRunningMode "
				 L"FROM MSFT_MpComputerStatus")
		    : NULL;
	IWbemClassObject *o;
	ULONG n;
	if (en && r->count < AV_MAX_PRODUCTS &&
	    IEnumWbemClassObject_Next(en, 5000, 1, &o, &n) == S_OK && n) {
		struct defender_raw raw = {0};
		raw.realtime_enabled =
			get_long(o, L"RealTimeProtectionEnabled", 0) != 0;
		get_string(o, L"AntivirusSignatureLastUpdated",
			   raw.signature_updated, sizeof(raw.signature_updated));
		get_string(o, L"AMRunningMode", raw.running_mode,
			   sizeof(raw.running_mode));
		defender_decode(&raw, &r->products[r->count++]);
		IWbemClassObject_Release(o);
	}
	if (en)
		IEnumWbemClassObject_Release(en);
	if (svc)
		IWbemServices_Release(svc);
}

void avprobe_collect(const struct avprobe_config *cfg, struct av_report *out)
{
	IWbemLocator *loc = NULL;
	(void)cfg;
	memset(out, 0, sizeof(*out));
	CoInitializeEx(NULL, COINIT_MULTITHREADED);
	if (SUCCEEDED(CoCreateInstance(&CLSID_WbemLocator, NULL,
				       CLSCTX_INPROC_SERVER, &IID_IWbemLocator,
				       (void **)&loc))) {
		probe_wsc(loc, out);
		probe_defender(loc, out);
		IWbemLocator_Release(loc);
	}
	CoUninitialize();
	av_report_summarise(out, timeutil_now_us());
}
#endif
