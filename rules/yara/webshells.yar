/* PHP web shells: school web servers (a CMS on an old PHP) are defaced
 * through them. A shell runs what a request sends it, so the tell is a
 * request variable flowing into an evaluator or a command runner. */
rule EW_PHP_Webshell_Request_To_Exec
{
    meta:
        description = "PHP code that passes request data to eval or a shell"
        author = "eduwatch"
        severity = 8
        category = "webshell"
    strings:
        $php = "<?php" nocase
        $php_short = "<?=" 
        $exec = /\b(eval|assert|system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|create_function)\s*\(\s*(\$_(GET|POST|REQUEST|COOKIE|SERVER)|base64_decode\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)|stripslashes\s*\(\s*\$_(GET|POST|REQUEST))/ nocase
        $backtick = /`\s*\$_(GET|POST|REQUEST)\[/ nocase
        $preg_e = /preg_replace\s*\(\s*['"].{1,64}\/e['"]\s*,\s*\$_(GET|POST|REQUEST)/ nocase
    condition:
        filesize < 2MB and ($php or $php_short) and ($exec or $backtick or $preg_e)
}

rule EW_PHP_Webshell_Obfuscated_Eval
{
    meta:
        description = "PHP eval of a decoded blob, the usual packed web shell"
        author = "eduwatch"
        severity = 7
        category = "webshell"
    strings:
        $php = "<?php" nocase
        $packed = /\beval\s*\(\s*(gzinflate|gzuncompress|str_rot13|base64_decode|strrev)\s*\(\s*(gzinflate|gzuncompress|str_rot13|base64_decode|strrev)?\s*\(?\s*['"][A-Za-z0-9+\/=]{200,}/ nocase
    condition:
        filesize < 2MB and $php and $packed
}

rule EW_PHP_Webshell_Known_Kits
{
    meta:
        description = "Known PHP web shell kits (c99, r57, WSO, b374k)"
        author = "eduwatch"
        severity = 8
        category = "webshell"
    strings:
        $c99 = "c99shell" nocase
        $r57 = "r57shell" nocase
        $wso = "WSO " fullword
        $wso2 = "wso_version" nocase
        $b374k = "b374k" nocase
        $fm = "FilesMan" fullword
    condition:
        filesize < 2MB and uint16(0) != 0x5A4D and 2 of them
}
