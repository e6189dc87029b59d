/* The drill marker: a harmless file the collector's drills write, to
 * prove end to end that a planted file is found, reported and scored,
 * without any real malware on a school PC. */
rule EW_Drill_Marker
{
    meta:
        description = "eduwatch drill marker file (harmless)"
        author = "eduwatch"
        severity = 1
        drill = true
    strings:
        $marker = "EDUWATCH-DRILL-MARKER-v1" ascii wide
    condition:
        $marker and filesize < 64KB
}
