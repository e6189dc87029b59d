#!/usr/bin/python3
"""Writes the samples for rules/yara into DIR, made at test time (the EICAR
file must never be committed), and prints the expected verdicts as JSON:
{relative path: [rule, ...]} ([] for a negative twin)."""
import json
import os
import struct
import sys

out = sys.argv[1]
expect = {}


def write(rel, data, rules):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    expect[rel] = rules


# EICAR: the 68-byte standard file, and the string not at offset 0.
eicar = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-"
         b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
write("eicar/eicar.com", eicar, ["EW_EICAR_Test_File"])
write("eicar/quoted.txt", b"a note about " + eicar, [])

# The drill marker, in UTF-8 and UTF-16 (wide).
write("drill/marker.txt", "EDUWATCH-DRILL-MARKER-v1\n", ["EW_Drill_Marker"])
write("drill/marker-wide.txt", "EDUWATCH-DRILL-MARKER-v1".encode("utf-16-le"),
      ["EW_Drill_Marker"])
write("drill/other.txt", "EDUWATCH-DRILL-MARKER-v0 is not the marker\n", [])


def lnk(target_args):
    """A shell link: the 76-byte header (size 0x4C, LinkCLSID) and the
    arguments as a counted UTF-16 string, as Windows writes them."""
    header = struct.pack("<I", 0x4C) + bytes.fromhex(
        "0114020000000000c000000000000046")
    header += b"\x00" * (0x4C - len(header))
    args = target_args.encode("utf-16-le")
    return header + struct.pack("<H", len(target_args)) + args


write("usb/Bai tap.lnk",
      lnk(r"/c start wscript.exe //B .\~$WAU.vbs & start explorer Bai tap"),
      ["EW_USB_LNK_Worm_Shortcut"])
write("usb/Documents.lnk",
      lnk(r"-w hidden -c powershell -ep bypass .\x.ps1; explorer.exe Documents"),
      ["EW_USB_LNK_Worm_Shortcut"])
write("usb/Word.lnk", lnk(r"C:\Program Files\Microsoft Office\WINWORD.EXE"), [])
write("usb/autorun.inf",
      "[autorun]\r\nopen=RECYCLER\\S-1-5-21\\svchost.exe\r\nicon=drive.ico\r\n",
      ["EW_USB_Autorun_Inf"])
write("usb2/autorun.inf",
      "[AutoRun]\r\nshell\\open\\command=wscript.exe x.vbs\r\n",
      ["EW_USB_Autorun_Inf"])
write("usb3/autorun.inf", "[autorun]\r\nicon=school.ico\r\nlabel=LOP 9A\r\n", [])

# Ransom notes, English and Vietnamese; and ordinary text with one phrase.
write("notes/HOW_TO_DECRYPT.txt",
      "All your files are encrypted!\nTo decrypt your files you need a "
      "decryption key.\nPay in Bitcoin. Install Tor Browser and open "
      "http://abcdefghij.onion\nYour personal ID: 7781\n",
      ["EW_Ransom_Note"])
write("notes/DOC_KY.txt",
      "Toàn bộ dữ liệu của bạn đã bị mã hóa. Để giải mã và khôi phục dữ liệu, "
      "hãy trả tiền chuộc bằng Bitcoin.\n",
      ["EW_Ransom_Note"])
write("notes/lesson.txt",
      "Bài học tin học: Bitcoin là một loại tiền mã hoá. Không bao giờ trả "
      "tiền cho kẻ xấu.\n", [])

# PHP web shells, and ordinary PHP.
write("www/up.php", "<?php @eval($_POST['cmd']); ?>\n",
      ["EW_PHP_Webshell_Request_To_Exec"])
write("www/s.php", "<?php echo shell_exec($_GET['c']); ?>\n",
      ["EW_PHP_Webshell_Request_To_Exec"])
write("www/p.php", "<?php eval(gzinflate(base64_decode('" + "A" * 300 +
      "'))); ?>\n", ["EW_PHP_Webshell_Obfuscated_Eval"])
write("www/kit.php", "<?php /* c99shell */ $x='FilesMan'; ?>\n",
      ["EW_PHP_Webshell_Known_Kits"])
write("www/index.php",
      "<?php\n$page = htmlspecialchars($_GET['page'] ?? 'home');\n"
      "echo \"<h1>Trường THCS</h1>\";\nsystem('date');\n?>\n", [])

json.dump(expect, sys.stdout)
