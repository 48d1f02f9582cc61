"""Seeded generators of Swedish text (and Nordic/English decoys) for the sample archive.

The Swedish is written for the purpose: templates over a hand-made vocabulary, enough variety
that a tokenizer and a tiny model have something to learn, all of it deterministic given a
`random.Random`.
"""

from __future__ import annotations

import random

PERSONS = [
    "Anna Lindqvist", "Erik Johansson", "Karin Berg", "Lars Nilsson", "Maria Holm", "Per Sjöberg",
    "Ingrid Åkesson", "Gustav Ek", "Sofia Dahl", "Olof Strand", "Birgitta Löfgren", "Johan Wikström",
    "Elsa Forsberg", "Nils Hedlund", "Astrid Bergström", "Sven Öberg", "Kerstin Sundberg",
    "Magnus Lund", "Ebba Nyström", "Håkan Palm", "Greta Åström", "Axel Lindgren", "Märta Engström",
]
TITLES = [
    "kommunalrådet", "professorn", "landshövdingen", "riksdagsledamoten", "rektorn", "överläkaren",
    "ordföranden", "direktören", "kyrkoherden", "stadsarkitekten", "förbundskaptenen", "bibliotekarien",
]
PLACES = [
    "Stockholm", "Göteborg", "Malmö", "Uppsala", "Umeå", "Luleå", "Östersund", "Karlstad", "Växjö",
    "Örebro", "Gävle", "Sundsvall", "Kiruna", "Visby", "Jönköping", "Norrköping", "Linköping",
    "Västerås", "Falun", "Kalmar", "Halmstad", "Skellefteå", "Härnösand", "Ystad",
]
REGIONS = ["Norrland", "Svealand", "Götaland", "Skåne", "Dalarna", "Värmland", "Gotland", "Jämtland",
           "Lappland", "Småland", "Uppland", "Hälsingland"]
ORGS = [
    "kommunen", "regionen", "riksdagen", "regeringen", "landstinget", "universitetet", "Kungliga biblioteket",
    "järnvägsbolaget", "fackförbundet", "hembygdsföreningen", "idrottsföreningen", "länsstyrelsen",
    "Vattenfall", "posten", "skolverket", "sjukhuset", "stadsteatern", "konsumföreningen",
]
NOUNS = [
    ("en", "bro", "bron", "broar"), ("ett", "sjukhus", "sjukhuset", "sjukhus"),
    ("en", "skola", "skolan", "skolor"), ("ett", "bibliotek", "biblioteket", "bibliotek"),
    ("en", "väg", "vägen", "vägar"), ("en", "hamn", "hamnen", "hamnar"),
    ("ett", "kraftverk", "kraftverket", "kraftverk"), ("en", "järnväg", "järnvägen", "järnvägar"),
    ("ett", "museum", "museet", "museer"), ("en", "fabrik", "fabriken", "fabriker"),
    ("ett", "badhus", "badhuset", "badhus"), ("en", "kyrka", "kyrkan", "kyrkor"),
    ("ett", "torg", "torget", "torg"), ("en", "idrottshall", "idrottshallen", "idrottshallar"),
    ("ett", "äldreboende", "äldreboendet", "äldreboenden"), ("en", "förskola", "förskolan", "förskolor"),
]
ADJ = [("ny", "nytt", "nya"), ("stor", "stort", "stora"), ("gammal", "gammalt", "gamla"),
       ("modern", "modernt", "moderna"), ("omstridd", "omstritt", "omstridda"),
       ("efterlängtad", "efterlängtat", "efterlängtade"), ("dyr", "dyrt", "dyra"),
       ("vacker", "vackert", "vackra"), ("enkel", "enkelt", "enkla")]
TOPICS = [
    "bostadsbristen", "skatterna", "sjukvården", "skolans resultat", "klimatet", "kollektivtrafiken",
    "arbetslösheten", "energipriserna", "landsbygdens framtid", "integrationen", "försvaret",
    "pensionerna", "kulturlivet", "ungdomarnas fritid", "jordbruket", "skogsnäringen", "turismen",
]
WEEKDAYS = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
          "oktober", "november", "december"]
WEATHER = ["regn", "snö", "sol", "dimma", "hård vind", "åska", "frost", "halka", "värmebölja"]
SPORTS = [("Djurgården", "AIK"), ("Malmö FF", "IFK Göteborg"), ("Frölunda", "Färjestad"),
          ("Hammarby", "Brynäs"), ("Luleå HF", "Skellefteå AIK"), ("Sirius", "Västerås SK")]
FOODS = ["sill och potatis", "köttbullar", "ärtsoppa och pannkakor", "kanelbullar", "surströmming",
         "kräftor", "gravad lax", "semlor", "pepparkakor", "lingonsylt"]

NEWS_TEMPLATES = [
    "{Title} {person} meddelade i {weekday}s att {org} ska bygga {a_adj_noun} i {place}.",
    "Enligt {org} kommer arbetet med {def_noun} att kosta omkring {num} miljoner kronor.",
    "Många invånare i {place} är oroliga för {topic} och kräver besked före valet.",
    "– Det här är en viktig dag för hela {region}, säger {person} till vår tidning.",
    "Beslutet fattades efter en lång debatt där oppositionen ville skjuta upp frågan om {topic}.",
    "Under {month} räknar meteorologerna med {weather} i stora delar av {region}.",
    "{Org_cap} har fått kritik för hur man har skött frågan om {topic} under det senaste året.",
    "I {place} samlades flera hundra personer på torget för att protestera mot nedläggningen av {def_noun}.",
    "{Person} har arbetat på {def_noun} i {place} i mer än {small} år och minns hur det var förr.",
    "Den {adj_def} {noun} i {place} invigdes på {weekday}en i närvaro av {title} {person}.",
    "Polisen i {place} efterlyser vittnen till en inbrottsstöld som skedde natten till {weekday}.",
    "Priset på el har stigit med {small} procent sedan i fjol, visar nya siffror från {org}.",
    "Kommunfullmäktige i {place} röstade med knapp majoritet för att rusta upp {def_noun}.",
    "Trafiken på järnvägen mellan {place} och {place2} stod stilla i flera timmar efter ett signalfel.",
    "Skolorna i {place} får fler lärare nästa läsår, lovar {org}.",
    "{Person} tror att {topic} kommer att bli den viktigaste frågan i höstens val.",
    "Det blev en oväntad seger för {team1} som slog {team2} med {score} inför en fullsatt arena.",
    "Tränaren var nöjd efter matchen men menade att laget måste förbättra försvarsspelet.",
    "Inför helgen varnar länsstyrelsen för {weather} och uppmanar bilister att köra försiktigt.",
    "Utställningen på {def_noun} i {place} har lockat fler besökare än väntat.",
    "Bönderna i {region} hoppas på en bättre skörd i år efter fjolårets torka.",
    "Hyrorna i {place} höjs med i genomsnitt {small} procent från och med {month}.",
    "Enligt en ny undersökning läser fyra av tio svenskar minst en bok i månaden.",
    "Biblioteket i {place} har fått en donation av gamla tidningar och brev från {region}.",
    "Många äldre i {place} känner sig ensamma, och frivilliga organisationer söker nu fler volontärer.",
    "Regeringen vill satsa {num} miljoner kronor på {topic} under de kommande tre åren.",
    "Oppositionen anser att pengarna borde gå till {topic} i stället.",
    "På {weekday}skvällen bjöd hembygdsföreningen på {food} och dragspelsmusik.",
    "Fiskarna i {place} har haft en ovanligt god säsong, och hamnen har varit full av båtar.",
    "Arbetet med att bygga ut vägen mot {place2} beräknas vara klart om {small} år.",
    "Sommarens torka har slagit hårt mot lantbrukarna kring {place}, där skörden blev den sämsta på decennier.",
    "Ett nytt förslag från {org} väcker starka känslor bland föräldrarna i {place2}.",
    "Kostnaden för {def_noun} har nästan fördubblats sedan planeringen började.",
    "Vid sammanträdet på {weekday}en kom frågan om {topic} upp på nytt.",
    "{Person} lämnar sitt uppdrag efter {small} år och ersätts av en yngre kollega från {place2}.",
    "Flera företag i {region} har svårt att hitta utbildad personal.",
    "Till hösten öppnar {a_adj_noun} vid hamnen, om allt går enligt planerna.",
    "Lokalpressen har granskat hur pengarna till {topic} egentligen har använts.",
    "Snöovädret orsakade stora problem för pendlarna mellan {place} och {place2}.",
    "Försäljningen i butikerna ökade kraftigt under julhandeln, enligt handelskammaren.",
    "En äldre man från {place} fick på {weekday}en ta emot en medalj för sina insatser.",
    "Vattenledningen brast under natten och flera kvarter i {place} stod utan vatten.",
    "Ungdomarna på fritidsgården i {place} har själva målat om lokalerna.",
    "Kyrkokören i {place2} firar {small} år med en konsert i början av {month}.",
    "Skolbarnen i {region} fick lära sig om hur man tar hand om skogen.",
    "Stadens äldsta hus ska nu restaureras med bidrag från {org}.",
    "Debatten i fullmäktige blev lång och ibland hätsk innan beslutet till slut kunde fattas.",
    "Statistiken visar att allt fler väljer att cykla till arbetet i {place}.",
    "Marknaden på torget i {place} lockade som vanligt besökare från hela {region}.",
    "Efter flera års förhandlingar har parterna nu kommit överens om ett nytt avtal.",
    "Turistbyrån i {place2} räknar med rekordmånga gäster under sommaren.",
    "Räddningstjänsten ryckte ut till en brand i ett flerfamiljshus i {place} sent på {weekday}skvällen.",
    "Ingen person skadades, men flera lägenheter blev obeboeliga efter branden.",
    "Den gamla skolan i byn utanför {place} har fått nytt liv som konstnärsateljé.",
    "Forskare vid universitetet i {place2} har studerat hur {topic} påverkar folkhälsan.",
]

SPEECH_TEMPLATES = [
    "Herr talman! Jag vill börja med att tacka utskottet för ett gediget arbete med frågan om {topic}.",
    "Vi menar att regeringen måste ta ett större ansvar för {topic} i hela landet.",
    "Det är inte rimligt att människor i {region} ska behöva vänta i månader på vård.",
    "Fru talman! Jag yrkar bifall till reservationen i betänkandet.",
    "Vi har under lång tid sett hur {topic} har försämrats, särskilt på landsbygden.",
    "Därför föreslår vi att {num} miljoner kronor avsätts till {org} redan nästa år.",
    "Jag vill fråga statsrådet hur regeringen tänker hantera {topic} framöver.",
    "Låt mig vara tydlig: vi kommer aldrig att acceptera nedskärningar i {topic}.",
    "Det här handlar i grunden om tillit mellan medborgarna och staten.",
    "Tack, herr talman, och tack till ledamoten för frågan.",
    "Jag delar ledamotens oro, men jag vill påminna om att mycket redan har gjorts.",
    "I {place} har kommunen visat att det går att förbättra {topic} med små medel.",
    "Vi behöver en bred överenskommelse som håller över flera mandatperioder.",
    "Avslutningsvis vill jag säga att vi står bakom förslaget i sin helhet.",
]

DIALOGUE = [
    "Var har du varit hela dagen?", "Jag trodde att du skulle komma i går.", "Det spelar ingen roll nu.",
    "Vi måste prata om det som hände.", "Kan du hjälpa mig med väskorna?", "Nej, jag vet inte var hon är.",
    "Har du sett nycklarna någonstans?", "Vi ses vid stationen klockan sju.", "Det var inte mitt fel!",
    "Han sa att han skulle ringa i kväll.", "Vill du ha en kopp kaffe?", "Jag orkar inte mer.",
    "Tror du att hon vet något?", "Vänta lite, jag kommer strax.", "Varför sa du ingenting?",
    "Det är kallt ute i dag.", "Du måste lita på mig.", "Vi har inte mycket tid kvar.",
    "Jag har aldrig varit i {place} förut.", "Pappa väntar på oss i stugan.", "Hur mår du egentligen?",
    "Hon flyttade till {place} för många år sedan.", "Ta det lugnt, allt ordnar sig.",
    "Jag förstår inte vad du menar.", "Kom igen nu, vi är sena!", "Tack för att du kom.",
    "Det luktar {food} i hela huset.", "Mormor bakade alltid på lördagarna.", "Vem var det som ringde?",
    "Stäng dörren efter dig.", "Jag hittade brevet i byrålådan.", "Det här stannar mellan oss.",
    "Jag träffade {person} i {place} i {weekday}s.", "Vi kan äta {food} hos {person} på {weekday}.",
    "Tåget till {place} går om {small} minuter.", "{person} har bott i {place} i {small} år.",
    "Har du hört att {org} ska stänga {def_noun}?", "Det kostar {num} kronor, inte mer.",
    "Ring {person} och säg att vi kommer på {weekday}.", "I {month} ska vi åka till {region}.",
    "Jag har inte pratat med {person} sedan i {month}.", "Vet du om {def_noun} i {place} är öppen?",
    "Hon sa att {topic} är det enda folk pratar om.", "Vi träffas vid {def_noun} klockan {small}.",
    "Minns du sommaren i {region}?", "Det kommer {weather} i {place} i morgon.",
    "{person} ringde från {place} och frågade efter dig.", "Jag lovade {person} att ta med {food}.",
]

RADIO_TEMPLATES = [
    "God morgon och välkomna till morgonprogrammet här i P1.",
    "I dag ska vi prata om {topic} och vad det betyder för oss som bor i {region}.",
    "Med mig i studion har jag {title} {person}. Välkommen hit!",
    "Tack, det är roligt att vara här.",
    "Jag tycker att debatten om {topic} ofta blir för förenklad.",
    "Vi har pratat med lyssnare i {place} som berättar om sina erfarenheter.",
    "Nu blir det musik, och efter det kommer nyheterna.",
    "Klockan är strax åtta och här är dagens väder: {weather} i {region}, annars uppehåll.",
    "Det var väldigt intressant, och vi får säkert anledning att återkomma till det.",
    "Vad skulle du säga till den som tvekar?",
    "Man ska inte vara rädd för att pröva något nytt.",
    "Nästa vecka handlar programmet om {topic}.",
]

NORWEGIAN = [
    "Regjeringen har bestemt at det skal bygges en ny vei mellom byene i løpet av de neste årene.",
    "Mange innbyggere er bekymret for at sykehuset skal legges ned, og de krever svar fra politikerne.",
    "Været i helgen blir kaldt og vått, med mye nedbør langs kysten og snø på fjellet.",
    "Hun forteller at hun har bodd i bygda hele livet og aldri har tenkt å flytte.",
    "Kommunestyret vedtok budsjettet etter en lang debatt om skolene og eldreomsorgen.",
    "Det er ikke lett å finne en leilighet i byen for tiden, sier han til avisen.",
    "Laget vant kampen etter et mål i siste minutt, og supporterne jublet på tribunen.",
    "Fiskerne mener at kvotene er altfor lave og at næringen trenger bedre vilkår.",
    "Utstillingen på museet viser bilder fra livet på landsbygda for hundre år siden.",
    "Ifølge statistikken har strømprisene økt kraftig det siste året, særlig i Sør-Norge.",
    "Politiet ber folk som har sett noe mistenkelig om å ta kontakt så snart som mulig.",
    "Vi må ta vare på naturen for de som kommer etter oss, sier lederen av foreningen.",
]
DANISH = [
    "Regeringen har besluttet, at der skal bygges en ny bro over fjorden i løbet af de kommende år.",
    "Mange borgere er bekymrede for, at hospitalet lukker, og de kræver et svar fra politikerne.",
    "Vejret i weekenden bliver koldt og blæsende med regn over det meste af landet.",
    "Hun fortæller, at hun har boet i landsbyen hele sit liv og aldrig har tænkt sig at flytte.",
    "Byrådet vedtog budgettet efter en lang debat om skolerne og ældreplejen.",
    "Det er ikke nemt at finde en lejlighed i København for tiden, siger han til avisen.",
    "Holdet vandt kampen efter et mål i sidste minut, og tilskuerne jublede på lægterne.",
    "Fiskerne mener, at kvoterne er alt for lave, og at erhvervet har brug for bedre vilkår.",
    "Udstillingen på museet viser billeder fra livet på landet for hundrede år siden.",
    "Ifølge statistikken er elpriserne steget kraftigt i det seneste år, især i Jylland.",
    "Køb nu! Stort udsalg hos Jensens Møbler i hele januar – spar op til halvdelen på sofaer og borde.",
    "Vi skal passe på naturen for dem, der kommer efter os, siger formanden for foreningen.",
]
ENGLISH = [
    "The government announced on Tuesday that a new bridge will be built across the river.",
    "Many residents are worried that the local hospital will close and are demanding answers.",
    "The weather this weekend will be cold and windy, with rain across most of the country.",
    "She says she has lived in the village all her life and has never thought of moving away.",
    "The council approved the budget after a long debate about schools and care for the elderly.",
    "It is not easy to find a flat in the city at the moment, he told the newspaper.",
    "The team won the match with a goal in the final minute, and the fans cheered in the stands.",
    "According to the statistics, electricity prices have risen sharply over the past year.",
    "The exhibition at the museum shows photographs of rural life a hundred years ago.",
    "Police are asking anyone who saw anything suspicious to get in touch as soon as possible.",
]

TV_CHANNELS = ["SVT1", "SVT2", "TV4", "Kunskapskanalen"]
TV_PROGRAMMES = ["Rapport", "Aktuellt", "Sportnytt", "Go'kväll", "Kulturnyheterna", "Väder",
                 "Lokala nyheter", "Uppdrag granskning", "Morgonstudion", "Barnkanalen", "Agenda",
                 "Sverige idag", "Antikrundan", "Mästarnas mästare", "Nyhetsmorgon", "Filmkväll"]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def fill(template: str, rng: random.Random) -> str:
    gender, noun, noun_def, _ = rng.choice(NOUNS)
    adj = rng.choice(ADJ)
    adj_form = adj[0] if gender == "en" else adj[1]
    place, place2 = rng.sample(PLACES, 2)
    team1, team2 = rng.choice(SPORTS)
    org = rng.choice(ORGS)
    values = {
        "title": rng.choice(TITLES), "person": rng.choice(PERSONS), "org": org,
        "place": place, "place2": place2, "region": rng.choice(REGIONS), "topic": rng.choice(TOPICS),
        "weekday": rng.choice(WEEKDAYS), "month": rng.choice(MONTHS), "weather": rng.choice(WEATHER),
        "num": str(rng.randint(2, 900)), "small": str(rng.randint(2, 40)),
        "def_noun": noun_def, "noun": noun, "adj_def": adj[2],
        "a_adj_noun": f"{gender} {adj_form} {noun}", "team1": team1, "team2": team2,
        "score": f"{rng.randint(1, 6)}–{rng.randint(0, 3)}", "food": rng.choice(FOODS),
    }
    values["Title"] = _cap(values["title"])
    values["Person"] = values["person"]
    values["Org_cap"] = _cap(org)
    return template.format(**values)


class TemplateBag:
    """Templates in shuffled order, each used once before any is reused, so that one document
    does not repeat itself the way a random draw with replacement would."""

    def __init__(self, rng: random.Random, *pools: list[str]):
        self.rng, self.pool, self.queue = rng, [t for p in pools for t in p], []

    def next(self) -> str:
        if not self.queue:
            self.queue = self.rng.sample(self.pool, len(self.pool))
        return fill(self.queue.pop(), self.rng)


def news_paragraph(rng: random.Random, n: int | None = None, bag: TemplateBag | None = None) -> str:
    bag = bag or TemplateBag(rng, NEWS_TEMPLATES)
    return " ".join(bag.next() for _ in range(n or rng.randint(3, 6)))


def headline(rng: random.Random) -> str:
    gender, noun, noun_def, _ = rng.choice(NOUNS)
    return rng.choice([
        f"{_cap(noun_def)} i {rng.choice(PLACES)} ska rustas upp",
        f"Oro i {rng.choice(REGIONS)} inför vintern",
        f"Ny debatt om {rng.choice(TOPICS)}",
        f"{rng.choice(PERSONS)}: ”Vi måste agera nu”",
        f"Rekordmånga besökare i {rng.choice(PLACES)}",
    ])


def article(rng: random.Random, paragraphs: int | None = None) -> list[str]:
    """A headline followed by paragraphs."""
    bag = TemplateBag(rng, NEWS_TEMPLATES)
    return [headline(rng)] + [news_paragraph(rng, rng.randint(3, 5), bag) for _ in range(paragraphs or rng.randint(3, 6))]


def speech_paragraph(rng: random.Random, n: int | None = None, bag: TemplateBag | None = None) -> str:
    bag = bag or TemplateBag(rng, SPEECH_TEMPLATES, NEWS_TEMPLATES)
    return " ".join(bag.next() for _ in range(n or rng.randint(3, 6)))


def radio_line(rng: random.Random, bag: TemplateBag | None = None) -> str:
    return (bag or TemplateBag(rng, RADIO_TEMPLATES, NEWS_TEMPLATES)).next()


def dialogue_line(rng: random.Random, bag: TemplateBag | None = None) -> str:
    return (bag or TemplateBag(rng, DIALOGUE)).next()


def decoy_paragraph(rng: random.Random, language: str, n: int = 5) -> str:
    pool = {"no": NORWEGIAN, "da": DANISH, "en": ENGLISH}[language]
    return " ".join(rng.sample(pool, min(n, len(pool))))


def tv_listing(rng: random.Random) -> list[str]:
    lines = []
    for channel in rng.sample(TV_CHANNELS, 2):
        lines.append(channel)
        hour, minute = 6, 0
        for _ in range(rng.randint(10, 16)):
            lines.append(f"{hour:02d}.{minute:02d} {rng.choice(TV_PROGRAMMES)}")
            minute += rng.choice([15, 30, 45])
            hour, minute = hour + minute // 60, minute % 60
    return lines


# --- personal data and look-alikes -------------------------------------------------------------

def luhn_digit(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def personnummer(rng: random.Random, coordination: bool = False) -> str:
    year = rng.randint(1930, 2005)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28) + (60 if coordination else 0)
    birth = rng.randint(100, 999)
    nine = f"{year % 100:02d}{month:02d}{day:02d}{birth}"
    check = luhn_digit(nine)
    style = rng.randrange(4)
    if style == 0:
        return f"{nine[:6]}-{nine[6:]}{check}"
    if style == 1:
        return f"{year // 100}{nine[:6]}-{nine[6:]}{check}"
    if style == 2:
        return f"{year // 100}{nine}{check}"
    return f"{nine}{check}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(PERSONS).lower().split(" ", 1)
    table = str.maketrans("åäöé", "aaoe")
    return f"{first.translate(table)}.{last.translate(table)}@{rng.choice(['exempel.se', 'post.nu', 'kb.se'])}"


def obfuscated_email(rng: random.Random) -> str:
    """An address written to dodge harvesters, in one of the spellings of Swedish public bodies' pages."""
    local, domain = email(rng).split("@")
    name, tld = domain.rsplit(".", 1)
    return rng.choice([
        f"{local}(at){domain}", f"{local}[at]{domain}", f"{local} (at) {domain}", f"{local} @ {domain}",
        f"{local}(snabel-a){domain}", f"{local} snabel-a {name} punkt {tld}", f"{local} [at] {name} [dot] {tld}",
        f"{local}(a){domain}", f"{local} at {name} dot {tld}",
    ])


def phone(rng: random.Random) -> str:
    return rng.choice([
        f"070-{rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        f"08-{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(10, 99)}"[:15],
        f"+46 {rng.randint(70, 76)} {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
    ])
