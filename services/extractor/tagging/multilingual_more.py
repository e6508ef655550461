"""More word lists for the languages besides English (issue 18, second round): given names for the
thin lists (sv, pt, it, pl, ru, uk, nl), well-known organisations of each language's news
(parties, parliaments, central banks, agencies, companies, media, clubs), head words that make a
multi-word name an organisation in any position ("Banco de España", "Polskiego Związku
Tenisowego"), Russian/Ukrainian head nouns of names written with one capital ("Московской
бирже"), club tokens ("FC", "AIK") and verbs of a sports result.

Plain data, merged into :mod:`lexicon`'s lists like :mod:`multilingual`.
"""

from __future__ import annotations


def _words(s: str) -> frozenset[str]:
    return frozenset(w for w in s.split() if w)


FIRST_NAMES_MORE = _words(
    """
    lars karl nils lennart mats magnus fredrik ulrika linnea elin sara johanna ingrid birgitta margareta
    mikael andreas niklas oskar gustav axel hampus isak kalle jonas tobias mattias patrik tomas joakim
    pontus rasmus viktor ylva annie jimmie jessika malin maja sofia stina therese emil
    joão manuel francisco pedro paulo ricardo rúben rodrigo diogo bruno andré hugo fernando carlos
    alexandre ana maria rita mariana teresa helena paula fernanda luiza flávio jair dilma geraldo ciro
    rogério vítor vitor rafael gustavo leonardo thiago lucas mateus joaquim afonso renato otávio
    augusto marta cristiano josé antónio
    alessandro davide giancarlo chiara francesca giulia valentina federica alessia martina lucia paola
    daniela attilio gennaro salvatore domenico giacomo nicolò gianluigi arturo ugo giovanna ilaria
    beatrice camilla elisa marina ornella rosa roberta antonella lorenza
    aleksander aleksandra dawid kacper bartosz paweł piotr mateusz przemysław hubert iga dorota renata
    urszula jolanta halina krystyna hanna robert wiktor wiktoria szymon sebastian marcin rafał
    władysław karol kazimierz mirosław zdzisław lech jarosław bronisław
    wim pieter henk kees joost geert frans dick sander bart ruud dries koen mark
    алена алёна дарья полина софья анастасия вероника кристина герман эдуард эльвира артем артём
    никита даниил матвей федор фёдор ярослав глеб егор лев семен семён степан тимофей филипп аркадий
    арсений марат ринат айдар валентина марко зоя инна любовь маргарита тамара жанна эльмира мирон
    остап назар богдана ганна оксана тетяна людмила наталія катерина софія вікторія світлана
    мирослав святослав арсеній григорій леонід степан антон максим павло валерій ірина інна олесь
    аряна арина дана діана марія христина ростислав станіслав всеволод геннадій аліна
    aryna
    mikel cole gareth adriano declan raheem trent virgil luka karsten jensen rory lewis elaine shelly collin
    xander ludvig unai enzo vinicius bukayo sadio lando valtteri yuki remco tadej wout primoz scottie erling
    kylian jude phil wayne steven stevie alfie archie harvey reece kieran callum conor ryan shane sean
    seamus niall eoin ciaran cillian aoife siobhan niamh roisin gemma kirsty lindsey wendy tracy sharon
    dwayne darnell tyrone jamal malik deandre lebron kareem stephen kobe giannis jayson damian zion
    """
)

# Organisations of each language's news without a suffix the rules would see (alias -> canonical).
KNOWN_ORGS_MORE: dict[str, str] = {
    "Oxfam": "Oxfam",
    "Save the Children": "Save the Children",
    "Novo Nordisk": "Novo Nordisk",
    "Eli Lilly": "Eli Lilly",
    "Nasdaq": "Nasdaq",
    "NYSE": "New York Stock Exchange",
    "AstraZeneca": "AstraZeneca",
    "Doctors Without Borders": "Médecins Sans Frontières",
    "Médecins Sans Frontières": "Médecins Sans Frontières",
    "Goldman Sachs": "Goldman Sachs",
    "JPMorgan": "JPMorgan Chase",
    "JPMorgan Chase": "JPMorgan Chase",
    "Air France": "Air France",
    "Air France-KLM": "Air France-KLM",
    # de
    "Bundestag": "Bundestag",
    "Bundesbank": "Bundesbank",
    "Bundesverfassungsgericht": "Bundesverfassungsgericht",
    "Volkswagen": "Volkswagen",
    "BMW": "BMW",
    "Daimler": "Daimler",
    "Mercedes-Benz": "Mercedes-Benz",
    "Bosch": "Bosch",
    "BASF": "BASF",
    "Bayer": "Bayer",
    "Allianz": "Allianz",
    "Telekom": "Deutsche Telekom",
    "Deutsche Telekom": "Deutsche Telekom",
    "Linke": "Die Linke",
    "Grüne": "Bündnis 90/Die Grünen",
    "BSW": "BSW",
    "EZB": "European Central Bank",
    "dpa": "dpa",
    # fr
    "Sénat": "Sénat",
    "Élysée": "Élysée",
    "Matignon": "Matignon",
    "SNCF": "SNCF",
    "EDF": "EDF",
    "TotalEnergies": "TotalEnergies",
    "Airbus": "Airbus",
    "Peugeot": "Peugeot",
    "Michelin": "Michelin",
    "LVMH": "LVMH",
    "BNP Paribas": "BNP Paribas",
    "Société générale": "Société générale",
    "Medef": "Medef",
    "CGT": "CGT",
    "CFDT": "CFDT",
    "La France insoumise": "La France insoumise",
    "LFI": "La France insoumise",
    "Les Républicains": "Les Républicains",
    "RN": "Rassemblement national",
    "Banque de France": "Banque de France",
    "Le Monde": "Le Monde",
    "Le Figaro": "Le Figaro",
    "Libération": "Libération",
    "AFP": "AFP",
    "PSG": "Paris Saint-Germain",
    "Paris Saint-Germain": "Paris Saint-Germain",
    # es
    "Generalitat": "Generalitat",
    "Moncloa": "Moncloa",
    "Congreso": "Congreso de los Diputados",
    "Fiscalía": "Fiscalía",
    "Audiencia Nacional": "Audiencia Nacional",
    "Sumar": "Sumar",
    "Junts": "Junts",
    "ERC": "ERC",
    "PNV": "PNV",
    "Bildu": "EH Bildu",
    "Iberdrola": "Iberdrola",
    "Santander": "Banco Santander",
    "BBVA": "BBVA",
    "CaixaBank": "CaixaBank",
    "Inditex": "Inditex",
    "Zara": "Zara",
    "Mercadona": "Mercadona",
    "Iberia": "Iberia",
    "Renfe": "Renfe",
    "EFE": "EFE",
    "Europa Press": "Europa Press",
    "El País": "El País",
    "El Mundo": "El Mundo",
    "Barça": "FC Barcelona",
    "Atlético": "Atlético de Madrid",
    # it
    "Quirinale": "Quirinale",
    "Palazzo Chigi": "Palazzo Chigi",
    "Senato": "Senato",
    "Movimento 5 Stelle": "Movimento 5 Stelle",
    "M5S": "Movimento 5 Stelle",
    "Consob": "Consob",
    "Bankitalia": "Banca d'Italia",
    "Unicredit": "UniCredit",
    "UniCredit": "UniCredit",
    "Intesa Sanpaolo": "Intesa Sanpaolo",
    "Enel": "Enel",
    "Ferrari": "Ferrari",
    "Pirelli": "Pirelli",
    "Trenitalia": "Trenitalia",
    "Trenord": "Trenord",
    "Ita Airways": "ITA Airways",
    "RAI": "RAI",
    "ANSA": "ANSA",
    "Juventus": "Juventus",
    "Juve": "Juventus",
    "Inter": "Inter",
    # pt
    "Assembleia da República": "Assembleia da República",
    "Parlamento": "Parlamento",
    "PSD": "PSD",
    "Chega": "Chega",
    "Iniciativa Liberal": "Iniciativa Liberal",
    "Bloco de Esquerda": "Bloco de Esquerda",
    "Itamaraty": "Itamaraty",
    "Planalto": "Palácio do Planalto",
    "TAP": "TAP",
    "CP": "CP",
    "Galp": "Galp",
    "EDP": "EDP",
    "Caixa Geral de Depósitos": "Caixa Geral de Depósitos",
    "Embraer": "Embraer",
    "Ibama": "Ibama",
    "Lusa": "Lusa",
    "Globo": "Globo",
    "Benfica": "Benfica",
    "Sporting": "Sporting",
    "Flamengo": "Flamengo",
    "Palmeiras": "Palmeiras",
    "Corinthians": "Corinthians",
    # pl
    "Sejm": "Sejm",
    "Sejmu": "Sejm",
    "Senat": "Senat",
    "PSL": "PSL",
    "Lewica": "Lewica",
    "Konfederacja": "Konfederacja",
    "Konfederacji": "Konfederacja",
    "Koalicja Obywatelska": "Koalicja Obywatelska",
    "NBP": "Narodowy Bank Polski",
    "PKO BP": "PKO BP",
    "PZU": "PZU",
    "LOT": "LOT",
    "PKP": "PKP",
    "PAP": "PAP",
    "TVN": "TVN",
    "TVP": "TVP",
    "Rzeczpospolita": "Rzeczpospolita",
    "Legia": "Legia Warszawa",
    "Lech": "Lech Poznań",
    "Equinor": "Equinor",
    "MSZ": "MSZ",
    # ru
    "Госдума": "State Duma",
    "Госдумы": "State Duma",
    "Госдуме": "State Duma",
    "Роснефть": "Rosneft",
    "Сбербанк": "Sberbank",
    "Сбер": "Sberbank",
    "ВТБ": "VTB",
    "Лукойл": "Lukoil",
    "Росатом": "Rosatom",
    "Роскосмос": "Roscosmos",
    "Минобороны": "Russian Ministry of Defence",
    "МИД": "МИД",
    "ФСБ": "FSB",
    "МВД": "МВД",
    "ЦБ": "Central Bank of Russia",
    "Центробанк": "Central Bank of Russia",
    "Единая Россия": "United Russia",
    "РИА Новости": "RIA Novosti",
    "Интерфакс": "Interfax",
    "Коммерсантъ": "Kommersant",
    "ЦСКА": "CSKA",
    "Спартак": "Spartak",
    "Зенит": "Zenit",
    "Локомотив": "Lokomotiv",
    "Динамо": "Dynamo",
    # uk
    "Верховна Рада": "Verkhovna Rada",
    "Верховної Ради": "Verkhovna Rada",
    "Кабмін": "Cabinet of Ministers of Ukraine",
    "Нафтогаз": "Naftogaz",
    "Укрзалізниця": "Ukrzaliznytsia",
    "Укренерго": "Ukrenergo",
    "НБУ": "National Bank of Ukraine",
    "СБУ": "SBU",
    "НАБУ": "NABU",
    "ЗСУ": "Armed Forces of Ukraine",
    "Укрінформ": "Ukrinform",
    "Шахтар": "Shakhtar",
    "Єврокомісія": "European Commission",
    "Європейська солідарність": "European Solidarity",
    "Слуга народу": "Servant of the People",
    "ЄС": "European Union",
    "МВФ": "International Monetary Fund",
    # sv
    "Riksdagen": "Riksdag",
    "Riksbanken": "Riksbank",
    "Regeringen": "Government of Sweden",
    "Socialdemokraterna": "Socialdemokraterna",
    "Moderaterna": "Moderaterna",
    "Sverigedemokraterna": "Sverigedemokraterna",
    "Kristdemokraterna": "Kristdemokraterna",
    "Liberalerna": "Liberalerna",
    "Centerpartiet": "Centerpartiet",
    "Vänsterpartiet": "Vänsterpartiet",
    "Miljöpartiet": "Miljöpartiet",
    "Försvarsmakten": "Försvarsmakten",
    "Polismyndigheten": "Polismyndigheten",
    "Ericsson": "Ericsson",
    "Saab": "Saab",
    "Spotify": "Spotify",
    "Swedbank": "Swedbank",
    "SEB": "SEB",
    "Handelsbanken": "Handelsbanken",
    "Nordea": "Nordea",
    "Vattenfall": "Vattenfall",
    "H&M": "H&M",
    "SVT": "SVT",
    "Aftonbladet": "Aftonbladet",
    "Expressen": "Expressen",
    "Dagens Nyheter": "Dagens Nyheter",
    "Svenska Dagbladet": "Svenska Dagbladet",
    # nl
    "Tweede Kamer": "Tweede Kamer",
    "VVD": "VVD",
    "PVV": "PVV",
    "Shell": "Shell",
    "Philips": "Philips",
    "ING": "ING",
    "ASML": "ASML",
    "KLM": "KLM",
    "Ajax": "Ajax",
    "PSV": "PSV",
}

# Head words that make a capitalised sequence of two or more words an organisation, in any position
# ("Banco de España", "Supremo Tribunal Federal", "Polskiego Związku Tenisowego"); lower case.
ORG_HEADS_INTL = _words(
    """
    banco banca banque banku tribunal tribunale trybunał trybunału corte cour conseil consejo consiglio
    conselho comisión commissione comissão comité comitato partido partito parti partia partii
    movimento movimiento mouvement ministerio ministero ministério ministère ministerstwo ministerstwa
    federación federazione federação fédération federacja federacji asociación associazione associação
    stowarzyszenie stowarzyszenia sindicato syndicat sindacato confederación confederazione
    confédération universidad università universidade université uniwersytet uniwersytetu instituto
    istituto institut instytut instytutu agencia agenzia agência agence agencja agencji fundación
    fondazione fundação fondation fundacja fundacji fondo fundo fundusz funduszu cámara câmara chambre
    izba izby senado senato sénat congreso congresso parlamento parlement assemblée asamblea assemblea
    assembleia urząd urzędu sąd sądu związek związku policía polizia polícia policja policji ejército
    esercito exército armée wojsko wojska servicio servizio serviço służba służby grupo gruppo groupe
    grupa grupy sociedad società sociedade société spółka spółki autoridad autorità autoridade autorité
    conferencia conferenza conferência conférence hospital ospedale hôpital szpital escuela scuola escola
    école szkoła academia accademia académie akademia akademii alianza alleanza aliança sojusz frente
    fronte bloco bloque blocco coalición coalizione coligação koalicja koalicji junta audiencia
    prokuratura prokuratury kancelaria kancelarii rada rady straż straży
    protezione protección proteção protection guardia guarda garde gendarmerie
    universität hochschule gewerkschaft zentralbank bundesamt landgericht amtsgericht verwaltungsgericht
    bundesanstalt stiftung verband vereinigung
    myndigheten verket inspektionen förbundet partiet
    """
)

# Russian/Ukrainian head nouns of names written with one capital ("Верховный суд",
# "Национальный банк Украины", "Харківської обласної військової адміністрації"), any case.
ORG_HEADS_CYR = (
    "суд",
    "банк",
    "бирж",
    "біржа",
    "біржі",
    "фонд",
    "комисси",
    "комісі",
    "служб",
    "совет",
    "рад",
    "дум",
    "министерств",
    "міністерств",
    "университет",
    "університет",
    "парти",
    "парті",
    "агентств",
    "агентств",
    "комитет",
    "комітет",
    "палат",
    "прокуратур",
    "академи",
    "академі",
    "союз",
    "федераци",
    "федераці",
    "администраци",
    "адміністраці",
    "управлени",
    "управлінн",
    "сил",
    "корпораци",
    "корпораці",
    "инспекци",
    "інспекці",
    "полици",
    "поліці",
    "гварди",
    "гварді",
    "собрани",
)

# Tokens that make a capitalised sequence a club ("FC Porto", "MSV Duisburg", "AIK", "Malmö FF").
CLUB_TOKENS = _words(
    "FC CF SC AC SS CD UD RC SV MSV TSV VfB VfL FSV TSG RB BSC HSV SG IF IK FF BK KS GKS SK FK ФК СК "
    "Olympique Racing Athletic Atlético Sporting Borussia Eintracht Fortuna Hertha Schalke Dynamo Dinamo "
    "Lokomotiv Slavia Sparta Partizan Legia Wisła Górnik Inter Ajax Feyenoord Celtic Rangers Benfica "
    "Galatasaray Fenerbahçe Beşiktaş Olympiacos Panathinaikos"
)

# Words of sports reports besides :data:`multilingual.SPORTS_WORDS` (lower case, as written).
SPORTS_WORDS_MORE = _words(
    """
    målen matchen derbyt tränaren tabellen serien förlorade vann
    spieltag tabelle tore heimspiel auswärtsspiel bundesliga meisterschaft rückrunde hinrunde
    buteur championnat entraîneur tournoi set sets finale
    goleador jornada torneo campeón
    tifosi squadra derby partita torneo
    golos equipa jogo
    bramkę bramki gola meczu drużyna turnieju finale
    матче матча забил команда турнира финале
    матчі матчу забив команда турніру фіналі бою
    """
)

# After a team ("Hammarby slog Djurgården", "Шахтар переміг Динамо"): verbs of a result.
TEAM_VERBS_AFTER = (
    "slog|besegrade|vann|förlorade|spelade|pokonał|pokonała|pokonali|przegrał|przegrała|zremisował|zremisowała"
    "|обыграл|обыграли|победил|победили|уступил|уступили|переміг|перемогли|поступився|програв"
    "|venceu|empatou|perdeu|bateu|derrotou|ha battuto|batte|ha pareggiato|ha perso|ha vinto"
    "|s'est imposé|a battu|bat|venció|ganó|empató|perdió|derrotó|goleó|besiegt|schlägt|gewinnt|verliert"
)
# Before a team: "gegen Sandhausen", "contro il Napoli".
TEAM_WORDS_BEFORE = "contro il|contro la|contro|przeciwko|derby|gegen den|gegen die"

# German compounds ending in a head word ("Bauernverband", "Landgericht"), in a sequence of two or more.
ORG_HEAD_ENDINGS_DE = (
    "universität",
    "gewerkschaft",
    "zentralbank",
    "verband",
    "stiftung",
    "ministerium",
    "gericht",
    "behörde",
    "partei",
    "konzern",
    "regionalliga",
    "oberliga",
)


# Chinese, Japanese, Korean (issue 18): dictionary recognition, no word segmentation. Country names
# come from pycountry's catalogues (these locales) plus the short forms news uses; big cities from
# GeoNames alternate names; organisations from this list.
CJK_LOCALES = ("zh_CN", "zh_TW", "ja", "ko")
CJK_COUNTRY_NAMES: dict[str, str] = {
    "中国": "CN",
    "美国": "US",
    "美國": "US",
    "米国": "US",
    "英国": "GB",
    "英國": "GB",
    "俄罗斯": "RU",
    "俄羅斯": "RU",
    "ロシア": "RU",
    "日本": "JP",
    "韩国": "KR",
    "韓国": "KR",
    "韓國": "KR",
    "朝鲜": "KP",
    "北朝鮮": "KP",
    "德国": "DE",
    "ドイツ": "DE",
    "法国": "FR",
    "フランス": "FR",
    "乌克兰": "UA",
    "ウクライナ": "UA",
    "台湾": "TW",
    "台灣": "TW",
    "印度": "IN",
    "以色列": "IL",
    "伊朗": "IR",
    "미국": "US",
    "중국": "CN",
    "일본": "JP",
    "러시아": "RU",
    "북한": "KP",
    "한국": "KR",
}
CJK_ORGS: dict[str, str] = {
    "新华社": "Xinhua",
    "新華社": "Xinhua",
    "共同社": "Kyodo News",
    "共同通信": "Kyodo News",
    "联合国": "United Nations",
    "聯合國": "United Nations",
    "国連": "United Nations",
    "北约": "NATO",
    "北約": "NATO",
    "欧盟": "European Union",
    "歐盟": "European Union",
    "国务院": "State Council",
    "外交部": "Ministry of Foreign Affairs",
    "外務省": "Ministry of Foreign Affairs of Japan",
    "防衛省": "Ministry of Defense of Japan",
    "自民党": "Liberal Democratic Party",
    "华为": "Huawei",
    "華為": "Huawei",
    "腾讯": "Tencent",
    "阿里巴巴": "Alibaba",
    "丰田": "Toyota",
    "トヨタ": "Toyota",
    "ソニー": "Sony",
    "任天堂": "Nintendo",
    "三星": "Samsung",
    "삼성전자": "Samsung Electronics",
    "연합뉴스": "Yonhap",
    "人民日报": "People's Daily",
    "中国共产党": "Chinese Communist Party",
    "上海合作组织": "Shanghai Cooperation Organisation",
    "世界卫生组织": "World Health Organization",
    "国际货币基金组织": "International Monetary Fund",
    "世界銀行": "World Bank",
    "世界银行": "World Bank",
}


def is_cjk(s: str) -> bool:
    """Written in Han characters, kana or Hangul only."""
    return bool(s) and all(
        "\u4e00" <= c <= "\u9fff" or "\u3040" <= c <= "\u30ff" or "\uac00" <= c <= "\ud7af" or c == "ー" for c in s
    )
