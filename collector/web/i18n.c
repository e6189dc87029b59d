/* i18n: one table, one line per message. */
#include "collector/web/i18n.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct {
	const char *key, *vi, *en;
} catalogue[] = {
	{"app", "eduwatch — An toàn thông tin trường học", "eduwatch — school security"},
	{"register", "Sổ đăng ký hệ thống thông tin", "Register of information systems"},
	{"register_put", "Thêm hoặc sửa hệ thống", "Add or change a system"},
	{"login", "Đăng nhập", "Log in"},
	{"logout", "Đăng xuất", "Log out"},
	{"logout_all", "Đăng xuất mọi nơi", "Log out everywhere"},
	{"user", "Tài khoản", "User name"},
	{"password", "Mật khẩu", "Password"},
	{"totp", "Mã xác thực (TOTP)", "Authenticator code (TOTP)"},
	{"bad_login", "Sai tài khoản, mật khẩu hoặc mã xác thực.", "Wrong user name, password or code."},
	{"counts_unavailable", "Không đọc được số cảnh báo lúc này; hãy thử lại.", "The alert counts cannot be read now; try again."},
	{"locked", "Tài khoản đã bị khóa sau nhiều lần đăng nhập sai. Hãy liên hệ quản trị viên.", "The account is locked after too many failed logins. Ask an administrator."},
	{"slow_down", "Quá nhiều lần thử từ địa chỉ này. Hãy thử lại sau.", "Too many attempts from this address. Try again later."},
	{"overview", "Tổng quan", "Overview"},
	{"drills", "Diễn tập sự cố", "Incident drills"},
	{"drill_scenario", "Kịch bản", "Scenario"},
	{"drill_scope", "Phạm vi", "Scope"},
	{"drill_window_start", "Bắt đầu cửa sổ", "Window opens"},
	{"drill_window_end", "Kết thúc cửa sổ", "Window closes"},
	{"drill_people", "Người lập / người phê duyệt", "Organiser / approver"},
	{"drill_timeline", "Diễn biến theo máy", "Timeline per PC"},
	{"drill_scoreboard", "Bảng kết quả", "Scoreboard"},
	{"drill_took_part", "Đã tham gia", "Took part"},
	{"drill_result", "Kết quả", "Result"},
	{"drill_not_part", "Không tham gia: mất liên lạc / thu hồi / chưa nhận lệnh", "Not taking part: stale / revoked / never reached"},
	{"drill_share_p50_p90", "tỷ lệ · trung vị / p90", "share · median / p90"},
	{"drill_approve", "Phê duyệt", "Approve"},
	{"drill_abort", "Dừng diễn tập", "Abort the drill"},
	{"drill_second_person", "Chỉ quản trị viên cấp tỉnh không phải người lập mới được phê duyệt.", "Only a province admin who did not plan it may approve."},
	{"drill_abort_who", "Chỉ người lập hoặc quản trị viên cấp tỉnh được dừng.", "Only its organiser or a province admin may abort it."},
	{"drill_abort_cli", "Diễn tập đang chạy trên máy: dừng bằng lệnh drill abort để gửi lệnh dừng có chữ ký.", "The drill is running on PCs: abort it with drill abort, which signs the abort for each."},
	{"drill_state_changed", "Trạng thái diễn tập vừa thay đổi; hãy tải lại trang.", "The drill changed state meanwhile; reload the page."},
	{"redteam_figures", "Kết quả tấn công thử (red team)", "Red-team figures"},
	{"redteam_coverage", "Tỷ lệ phát hiện", "Detection coverage"},
	{"redteam_detect", "Thời gian phát hiện (trung vị / p90)", "Time to detect (median / p90)"},
	{"redteam_ack", "Thời gian xác nhận (trung vị / p90)", "Time to acknowledge (median / p90)"},
	{"redteam_false", "Cảnh báo không khớp hành động nào", "Alerts matching no action"},
	{"redteam_rule", "Một cảnh báo khớp một hành động khi nó ở trên máy (hoặc trường) đích và xuất hiện trong vòng 30 phút sau hành động.", "An alert matches an action when it is on the action's host (or school) and comes within 30 minutes after it."},
	{"redteam_target", "Đích (host:TÊN hoặc school:MÃ)", "Target (host:NAME or school:CODE)"},
	{"redteam_technique", "Kỹ thuật MITRE ATT&CK", "MITRE ATT&CK technique"},
	{"redteam_description", "Mô tả", "Description"},
	{"redteam_csv", "Hoặc dán tệp CSV", "Or paste a CSV"},
	{"redteam_record", "Ghi hành động tấn công", "Record red-team actions"},
	{"redteam_late", "Hành động ghi muộn (không tính)", "Actions recorded late (not counted)"},
	{"redteam_late_rule", "Hành động được ghi sau khi cảnh báo khớp với nó đã đến thì không tính là phát hiện: có thể người ghi đã đọc cảnh báo.", "An action recorded after the alert that matches it arrived is not counted as a detection: its recorder may have read the alert."},
	{"redteam_recorded", "Thời điểm ghi", "Recorded at"},
	{"redteam_late_alert", "Cảnh báo đến trước", "Alert that came first"},
	{"schools", "Trường học", "Schools"},
	{"school", "Trường", "School"},
	{"code", "Mã", "Code"},
	{"name", "Tên", "Name"},
	{"commune", "Xã/Phường", "Commune"},
	{"level", "Cấp độ", "Level"},
	{"pcs", "Máy tính", "PCs"},
	{"enrolled", "Đã đăng ký", "Enrolled"},
	{"expected", "Dự kiến", "Expected"},
	{"hostname", "Tên máy", "Host name"},
	{"last_seen", "Lần cuối liên lạc", "Last seen"},
	{"status", "Trạng thái", "Status"},
	{"fresh", "Đang báo cáo", "Reporting"},
	{"stale", "Mất liên lạc", "Stale"},
	{"never", "Chưa từng báo cáo", "Never reported"},
	{"revoked", "Đã thu hồi", "Revoked"},
	{"alerts", "Cảnh báo", "Alerts"},
	{"open_alerts", "Cảnh báo đang mở", "Open alerts"},
	{"severity", "Mức độ", "Severity"},
	{"title", "Nội dung", "Title"},
	{"state", "Tình trạng", "State"},
	{"open", "Đang mở", "Open"},
	{"acknowledged", "Đã tiếp nhận", "Acknowledged"},
	{"resolved", "Đã xử lý", "Resolved"},
	{"all", "Tất cả", "All"},
	{"ack", "Tiếp nhận", "Acknowledge"},
	{"resolve", "Đã xử lý xong", "Resolve"},
	{"comment", "Ghi chú", "Comment"},
	{"drill", "Diễn tập", "Drill"},
	{"first_seen", "Lần đầu", "First seen"},
	{"count", "Số lần", "Count"},
	{"bulk", "Áp dụng cho các mục đã chọn", "Apply to the selected"},
	{"next", "Trang sau", "Next page"},
	{"events", "Sự kiện gần đây", "Recent events"},
	{"kind", "Loại", "Kind"},
	{"time", "Thời gian", "Time"},
	{"pc", "Máy tính", "PC"},
	{"admin", "Quản trị", "Administration"},
	{"users", "Người dùng", "Users"},
	{"role", "Vai trò", "Role"},
	{"scope", "Phạm vi", "Scope"},
	{"audit", "Nhật ký kiểm tra", "Audit log"},
	{"actor", "Người thực hiện", "Who"},
	{"action", "Hành động", "Action"},
	{"object", "Đối tượng", "Object"},
	{"address", "Địa chỉ", "From"},
	{"detail", "Chi tiết", "Detail"},
	{"csv", "Tải CSV", "Download CSV"},
	{"language", "English", "Tiếng Việt"},
	{"api_tokens", "Khóa API", "API tokens"},
	{"new_token", "Tạo khóa API", "Create an API token"},
	{"token_once", "Khóa chỉ hiển thị một lần. Hãy lưu lại ngay:", "The token is shown once. Store it now:"},
	{"label", "Nhãn", "Label"},
	{"disabled", "Đã vô hiệu", "Disabled"},
	{"yes", "Có", "Yes"},
	{"no", "Không", "No"},
	{"panel_inventory", "Cấu hình máy", "Inventory"},
	{"panel_av", "Phần mềm diệt virus", "Antivirus"},
	{"panel_scan", "Quét mã độc", "Malware scans"},
	{"panel_backup", "Sao lưu", "Backups"},
	{"panel_lan", "Cảm biến mạng LAN", "LAN sensor"},
	{"not_reported", "Máy chưa báo cáo thông tin này.", "The PC has not reported this."},
	{"reported_at", "Báo cáo lúc", "Reported at"},
	{"unreadable_state", "Dữ liệu máy gửi không đọc được.", "What the PC sent cannot be read."},
	{"failing_checks", "Tiêu chí chưa đạt và cách khắc phục", "Failing checks and what to do"},
	{"checks_unavailable", "Không tính được các tiêu chí lúc này; hãy thử lại.", "The checks cannot be evaluated now; try again."},
	{"not_scored", "Máy này không được chấm điểm (đã thu hồi, hoặc cấp độ của trường chưa có chính sách).", "This PC is not scored (revoked, or its school's level has no policy)."},
	{"check", "Tiêu chí", "Check"},
	{"evidence", "Bằng chứng", "Evidence"},
	{"remediation", "Việc cần làm", "What to do"},
	{"all_checks_pass", "Máy đạt mọi tiêu chí.", "The PC passes every check."},
	{"av_history", "Lịch sử trạng thái diệt virus", "Antivirus state history"},
	{"soc_feed", "Luồng gửi SOC", "SOC feed"},
	{"no_destinations", "Chưa cấu hình nơi nhận nào (forward: trong collector.yaml).", "No destination is configured (forward: in collector.yaml)."},
	{"destination", "Nơi nhận", "Destination"},
	{"pending", "Đang chờ gửi", "Pending"},
	{"oldest_pending", "Cảnh báo chờ lâu nhất", "Oldest pending alert"},
	{"last_delivered", "Đã gửi gần nhất", "Last delivered"},
	{"dead_letters", "Bị từ chối", "Dead letters"},
	{"last_error", "Lỗi gần nhất", "Last error"},
	{"none_yet", "Chưa có", "None yet"},
	{"alert", "Cảnh báo", "Alert"},
	{"rule", "Luật", "Rule"},
	{"reason", "Lý do", "Reason"},
	{"add_user", "Thêm tài khoản", "Add an account"},
	{"change_role", "Đổi vai trò", "Change the role"},
	{"roles", "Các vai trò", "Roles"},
	{"password_once", "Mật khẩu dùng một lần dưới đây chỉ hiện một lần: hãy trao tận tay người dùng.", "The one-time password below is shown once: hand it to the person."},
	{"totp_secret", "Khóa TOTP (nhập vào ứng dụng xác thực):", "TOTP secret (enter it in the authenticator app):"},
	{"user_exists", "Tài khoản này đã có.", "That account exists."},
	{"self_change", "Không thể tự khóa hay tự đổi vai trò của chính mình; hãy nhờ quản trị viên khác.", "You cannot disable your own account or change its role; ask another administrator."},
	{"disable", "Khóa tài khoản", "Disable"},
	{"unlock", "Mở khóa", "Unlock"},
	{"passwd", "Cấp mật khẩu mới", "New password"},
	{"totp_enrol", "Xác thực hai lớp (TOTP)", "Two-step verification (TOTP)"},
	{"totp_enrolled", "Tài khoản đã bật xác thực hai lớp.", "Two-step verification is on for this account."},
	{"totp_not_enrolled", "Tài khoản chưa bật xác thực hai lớp.", "Two-step verification is off for this account."},
	{"totp_scan", "Nhập khóa này vào ứng dụng xác thực, rồi nhập mật khẩu hiện tại và mã 6 số ứng dụng hiển thị:", "Enter this secret in your authenticator app, then your current password and the 6-digit code it shows:"},
	{"totp_bad_code", "Mã xác thực không đúng với khóa này; hãy thử lại.", "The code does not match this secret; try again."},
	{"store_unreadable", "Không đọc được dữ liệu lúc này; hãy tải lại trang.", "The data cannot be read now; reload the page."},
	{"not_found", "Không tìm thấy trang này.", "No such page."},
	{"forbidden", "Bạn không có quyền xem trang này.", "You may not see this page."},
	{"bad_request", "Yêu cầu không hợp lệ.", "Bad request."},
	{"server_error", "Lỗi máy chủ.", "Server error."},
	{"reports", "Báo cáo", "Reports"},
	{"report_period", "Kỳ báo cáo", "Period"},
	{"report_scope", "Phạm vi", "Scope"},
	{"report_version", "Phiên bản", "Version"},
	{"report_due", "Hạn nộp", "Due"},
	{"report_draft", "Lập dự thảo", "Draft"},
	{"report_remarks", "Ý kiến của cán bộ", "Officer's remarks"},
	{"report_missing", "Thiếu dữ liệu các ngày", "Days without data"},
	{"report_na", "Không có số liệu", "Not available"},
	{"draft", "Dự thảo", "Draft"},
	{"signed", "Đã ký duyệt", "Signed"},
	{"overdue", "Quá hạn, chưa ký duyệt", "Overdue, not signed"},
	{"report_save", "Lưu ý kiến", "Save remarks"},
	{"report_sign", "Ký duyệt và lưu trữ", "Sign off and archive"},
	{"report_signed", "Báo cáo đã được ký duyệt; hãy lập phiên bản đính chính.", "The report is signed; draft a correction."},
	{"soc", "Chuyển tiếp SOC", "SOC feed"},
	{"no_rows", "Không có dữ liệu.", "Nothing here."},
	{"trend", "Diễn biến điểm tuân thủ", "Compliance score trend"},
	{"score", "Điểm", "Score"},
	{"dates_note", "Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)"},
	/* admin: schools and publishing (school_admin.c, publish_page.c) */
	{"edit", "Sửa", "Edit"},
	{"add_school", "Thêm trường", "Add a school"},
	{"edit_school", "Sửa thông tin trường", "Edit the school"},
	{"save", "Lưu", "Save"},
	{"school_rule_code", "Mã trường phải gồm 1-32 ký tự A-Z a-z 0-9 . _ -", "The school code must be 1-32 of A-Z a-z 0-9 . _ -"},
	{"school_rule_name", "Tên trường phải là chữ in được, không để trống, tối đa 128 byte", "The name must be printable text, not empty, at most 128 bytes"},
	{"school_rule_commune", "Tên xã/phường phải là chữ in được, không để trống, tối đa 128 byte", "The commune must be printable text, not empty, at most 128 bytes"},
	{"school_rule_level", "Cấp độ phải từ 1 đến 5", "The level must be 1 to 5"},
	{"school_rule_pcs", "Số máy dự kiến phải từ 0 đến 100000", "The expected PC count must be 0 to 100000"},
	{"rules_not_published", "Chưa phát hành được", "Not published"},
	{"publish", "Phát hành luật và danh sách IOC", "Publish rules and IOC lists"},
	{"rule_bundle", "Bộ luật YARA", "YARA rule bundle"},
	{"latest_version", "Phiên bản mới nhất", "Latest version"},
	{"rule_sets", "Số bộ luật đã cấu hình", "Rule sets configured"},
	{"publish_rules", "Biên dịch, ký và phát hành bộ luật", "Compile, sign and publish the rules"},
	{"ioc_list", "Danh sách IOC", "IOC list"},
	{"ioc_help", "Mỗi dòng một tên miền hoặc địa chỉ IP. Danh sách được ký bằng CA của máy chủ và gửi tới mọi máy; danh sách dài hơn 64 KB hãy dùng lệnh eduwatch-collector ioc publish.", "One domain or IP address a line. The list is signed with the collector's CA and sent to every PC; for lists over 64 KB use eduwatch-collector ioc publish."},
	{"publish_ioc", "Ký và phát hành danh sách IOC", "Sign and publish the IOC list"},
	{"lines", "dòng", "lines"},
	{"rules", "luật", "rules"},
	{"agents_told", "máy được báo tải về", "PCs told to fetch it"},
	{"not_all_agents", "Không liệt kê được mọi máy; một số máy chưa được báo.", "Not every PC could be listed; some were not told."},
	{"no_ca", "Máy chủ này chạy không có khóa CA (ca.key) nên không ký gì; hãy xuất bản và ký duyệt trên máy chủ giữ khóa.", "This collector runs without the CA key (ca.key) and signs nothing; publish and sign on the collector that holds it."},
	{"ioc_empty", "Danh sách IOC trống hoặc không hợp lệ.", "The IOC list is empty or not valid text."},
	/* charts (alert volume) and the commune page's score column */
	{"alert_volume", "Số cảnh báo theo loại mỗi ngày", "Alerts by kind per day"},
	{"day", "Ngày", "Day"},
	{"days", "Số ngày", "Days"},
	{"as_table", "Xem số liệu dạng bảng", "See the figures as a table"},
	{"no_score", "Chưa có điểm", "No score yet"},
};
#define NMSG (sizeof(catalogue) / sizeof(catalogue[0]))

const char *i18n_msg(enum i18n_lang lang, const char *key)
{
	for (size_t i = 0; i < NMSG; i++)
		if (strcmp(catalogue[i].key, key) == 0)
			return lang == I18N_EN ? catalogue[i].en : catalogue[i].vi;
	return key;
}

size_t i18n_count(void)
{
	return NMSG;
}

const char *i18n_key(size_t i)
{
	return i < NMSG ? catalogue[i].key : NULL;
}

enum i18n_lang i18n_pick(const char *pref, const char *accept, size_t alen)
{
	if (pref && strcmp(pref, "en") == 0)
		return I18N_EN;
	if (pref && strcmp(pref, "vi") == 0)
		return I18N_VI;
	/* The first of the two the browser names decides; q-values are
	 * rare enough in practice to be ignored. */
	for (size_t i = 0; accept && i + 1 < alen; i++) {
		if ((i == 0 || accept[i - 1] == ',' || accept[i - 1] == ' ') &&
		    ((accept[i] == 'v' && accept[i + 1] == 'i') ||
		     (accept[i] == 'e' && accept[i + 1] == 'n')))
			return accept[i] == 'e' ? I18N_EN : I18N_VI;
	}
	return I18N_VI;
}

const char *i18n_code(enum i18n_lang lang)
{
	return lang == I18N_EN ? "en" : "vi";
}

void i18n_datetime(int64_t us, char *out, size_t cap)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000) + 7 * 3600;
	if (us <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, cap, "-");
		return;
	}
	snprintf(out, cap, "%02d/%02d/%04d %02d:%02d", tm.tm_mday,
		 tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

void i18n_day(const char *iso, char *out, size_t cap)
{
	bool ok = strlen(iso) == 10 && iso[4] == '-' && iso[7] == '-';
	for (int i = 0; ok && i < 10; i++)
		ok = i == 4 || i == 7 || (iso[i] >= '0' && iso[i] <= '9');
	if (ok)
		snprintf(out, cap, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		snprintf(out, cap, "-");
}
