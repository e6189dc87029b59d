/* Ransom notes: the text files ransomware leaves beside encrypted files.
 * One phrase is common in ordinary text, so a note needs several, from
 * the families seen in Vietnamese schools and their English originals. */
rule EW_Ransom_Note
{
    meta:
        description = "Ransomware ransom note"
        author = "eduwatch"
        severity = 9
        category = "ransomware"
    strings:
        $en1 = "your files have been encrypted" ascii wide nocase
        $en2 = "all your files are encrypted" ascii wide nocase
        $en3 = "your important files are encrypted" ascii wide nocase
        $en4 = "to decrypt your files" ascii wide nocase
        $en5 = "decryption key" ascii wide nocase
        $en6 = "decryptor" ascii wide nocase
        $en7 = "do not rename encrypted files" ascii wide nocase
        $en8 = "tor browser" ascii wide nocase
        $en9 = "bitcoin" ascii wide nocase
        $en10 = ".onion" ascii wide nocase
        $en11 = "personal id" ascii wide nocase
        $en12 = "restore your files" ascii wide nocase
        $vi1 = "đã bị mã hóa" ascii wide nocase
        $vi2 = "giải mã" ascii wide nocase
        $vi3 = "khôi phục dữ liệu" ascii wide nocase
        $vi4 = "tiền chuộc" ascii wide nocase
    condition:
        filesize < 256KB and
        (
            (1 of ($en1, $en2, $en3, $vi1) and 2 of ($en4, $en5, $en6, $en7, $en8, $en9, $en10, $en11, $en12, $vi2, $vi3, $vi4))
            or 5 of them
        )
}
