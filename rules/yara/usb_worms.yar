/* USB worms: the shortcut (LNK) and autorun tricks that spread between
 * school PCs on shared USB sticks. The classic pattern hides the user's
 * folders and leaves shortcuts with the same names that run a script or
 * program on the stick first, then open the folder. */
rule EW_USB_LNK_Worm_Shortcut
{
    meta:
        description = "Shortcut that runs a script interpreter or a hidden program from the same drive"
        author = "eduwatch"
        severity = 7
        category = "usb-worm"
    strings:
        $cmd = "cmd.exe" ascii wide nocase
        $wscript = "wscript" ascii wide nocase
        $cscript = "cscript" ascii wide nocase
        $pwsh = "powershell" ascii wide nocase
        $rundll = "rundll32" ascii wide nocase
        $mshta = "mshta" ascii wide nocase
        $start = "/c start" ascii wide nocase
        $script1 = ".vbs" ascii wide nocase
        $script2 = ".vbe" ascii wide nocase
        $script3 = ".js " ascii wide nocase
        $script4 = ".jse" ascii wide nocase
        $script5 = ".wsf" ascii wide nocase
        $hidden1 = "-w hidden" ascii wide nocase
        $hidden2 = "-windowstyle hidden" ascii wide nocase
        $explorer = "explorer" ascii wide nocase
    condition:
        uint32(0) == 0x0000004C and uint32(4) == 0x00021401 and
        filesize < 16KB and
        (1 of ($cmd, $wscript, $cscript, $pwsh, $rundll, $mshta)) and
        ($start or 1 of ($script*) or 1 of ($hidden*)) and
        ($explorer or 1 of ($script*))
}

rule EW_USB_Autorun_Inf
{
    meta:
        description = "autorun.inf that starts a program from the drive"
        author = "eduwatch"
        severity = 6
        category = "usb-worm"
    strings:
        $section = "[autorun]" ascii wide nocase
        $open = /\bopen\s*=\s*\S+/ ascii wide nocase
        $exec = /\bshellexecute\s*=\s*\S+/ ascii wide nocase
        $cmd = /\bshell\\[^\\\r\n]{1,32}\\command\s*=/ ascii wide nocase
    condition:
        filesize < 8KB and $section and ($open or $exec or $cmd)
}
