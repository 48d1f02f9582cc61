"""Small real-format files written by hand for the reader and clean tests."""

ALTO_HYPHENATED = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
<Layout><Page ID="P1" PHYSICAL_IMG_NR="3"><PrintSpace>
<TextBlock ID="B1">
 <TextLine><String CONTENT="Den" WC="0.90"/><SP/><String CONTENT="nya" WC="0.80"/><SP/>
  <String CONTENT="järnvägs" SUBS_TYPE="HypPart1" SUBS_CONTENT="järnvägsstationen" WC="0.70"/><HYP CONTENT="-"/></TextLine>
 <TextLine><String CONTENT="stationen" SUBS_TYPE="HypPart2" SUBS_CONTENT="järnvägsstationen" WC="0.60"/><SP/>
  <String CONTENT="invigdes" WC="1.00"/><SP/><String CONTENT="i" WC="1.0"/><SP/><String CONTENT="går." WC="1.0"/></TextLine>
</TextBlock>
<TextBlock ID="B2">
 <TextLine><String CONTENT="Utan" WC="0.9"/><SP/><String CONTENT="ersätt" SUBS_TYPE="HypPart1" WC="0.9"/><HYP CONTENT="-"/></TextLine>
 <TextLine><String CONTENT="ning" SUBS_TYPE="HypPart2" WC="0.9"/><SP/><String CONTENT="alls." WC="0.9"/></TextLine>
</TextBlock>
</PrintSpace></Page></Layout></alto>
"""

ALTO_V2_NO_NS = """<?xml version="1.0"?><alto><Layout><Page><PrintSpace><TextBlock><TextLine>
<String CONTENT="Gammal" WC="0.5"/><SP/><String CONTENT="sida"/></TextLine></TextBlock></PrintSpace></Page></Layout></alto>"""

ALTO_ENTITY_BOMB = """<?xml version="1.0"?>
<!DOCTYPE alto [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<alto><Layout><Page><PrintSpace><TextBlock><TextLine><String CONTENT="&c;"/></TextLine></TextBlock></PrintSpace></Page></Layout></alto>"""

ALTO_EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE alto [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alto><Layout><Page><PrintSpace><TextBlock><TextLine><String CONTENT="&secret;"/></TextLine></TextBlock></PrintSpace></Page></Layout></alto>"""

SRT_BASIC = """1
00:00:01,000 --> 00:00:03,000
<i>Var har du varit?</i>

2
00:00:03,500 --> 00:00:05,000
{\\an8}- Jag var hos mormor.
- Hela dagen?

3
00:00:05,500 --> 00:00:06,000


4
00:00:07,000 --> 00:00:09,000
ANNA: Ja, hela dagen.
"""

SRT_OVERLAP_ROLLING = """1
00:00:01,000 --> 00:00:04,000
Nu börjar vi

2
00:00:02,000 --> 00:00:05,000
Nu börjar vi

3
00:00:05,000 --> 00:00:07,000
Nu börjar vi sändningen från riksdagen.
"""

SRT_REVERSED_NO_INDEX = """00:00:09,000 --> 00:00:10,000
Sist.

2
00:00:01,000 --> 00:00:02,000
Först.
"""

VTT_STYLED = """WEBVTT - Arkiverad

STYLE
::cue(.gul) { color: yellow; }

NOTE kommentar som inte ska med

intro
00:00:01.000 --> 00:00:02.500 line:0 align:start
<v Anna>Hej <c.gul>Erik</c>, <b>välkommen</b> hem!</v>

00:00:03.000 --> 00:00:04.000
<v Erik>Tack <00:00:03.500>så mycket.

00:00:04.500 --> 00:00:05.000
<v Erik>Det var längesen.

00:00:05.000 --> 00:00:06.000
[dörren slår igen]
"""

WHISPER = """{"language": "sv", "text": "x", "segments": [
 {"id": 0, "start": 0.0, "end": 2.5, "text": " Herr talman!", "speaker": "SPEAKER_00"},
 {"id": 1, "start": 2.5, "end": 6.0, "text": " Jag yrkar bifall till förslaget.", "speaker": "SPEAKER_00"},
 {"id": 2, "start": 6.2, "end": 9.0, "text": " Tack för anförandet.", "speaker": "SPEAKER_01"}]}"""

HTML_PAGE = """<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8"><title>Nyheter | Tidningen</title></head>
<body><nav><a href="/">Start</a> | <a href="/sport">Sport</a></nav>
<main><article><h1>Ny bro i Umeå</h1>
<p>Kommunen meddelade i dag att den nya bron över älven blir klar nästa år, och arbetet har redan börjat.</p>
<p>Många invånare är nöjda med beslutet, men några oroar sig för trafiken under byggtiden och kostnaderna.</p>
</article></main><footer>© Tidningen. Cookies används.</footer><script>var x=1;</script></body></html>"""
