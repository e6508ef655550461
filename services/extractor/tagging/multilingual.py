"""Word lists for the languages besides English (issue 18): de, fr, es, it, pt, nl, sv, pl, ru, uk.

Plain data, merged into the English lists of :mod:`lexicon` (a list word is rarely an ordinary
word in another of these languages). Place names in other languages come from the gazetteer's
data (pycountry's translations, GeoNames alternate names), not from here.
"""

from __future__ import annotations


def _words(s: str) -> frozenset[str]:
    return frozenset(w for w in s.split() if w)


# Capitalised sentence-initial function words (articles, prepositions, pronouns): never a name.
STOPWORDS_INTL = _words(
    """
    der die das dem den des ein eine einer eines einem einen und oder aber auch nach vor bei mit von zu zum zur
    im am ins vom für über unter durch gegen ohne seit wie wenn als ob dass weil doch noch schon nun dann
    so er sie es wir ihr ich man sein seine ihre ihr dieser diese dieses jeder jede alle viele mehr
    les un une des du au aux et ou mais pour par sur sous dans avec sans selon après avant chez
    il elle ils elles nous vous on ce cette ces son sa ses leur leurs mardi lundi mercredi jeudi vendredi samedi dimanche
    los las unos unas y o pero para por sobre según tras desde hasta con sin en al lo su sus este esta estos
    ese esa él ella ellos
    gli lo uno una ed nel nella nei nelle dal dalla dai degli delle sul sulla per tra fra con questo questa
    os um uma e ou mas para pelo pela pelos pelas sobre com sem em no na nos nas ao à do dos das este esta
    het een en maar voor met zonder naar bij uit op aan om dit deze
    och eller men för med utan på av till från efter före hos en ett den det de han hon vi ni
    na w we z ze do od przez przy po pod nad dla oraz ale lub jak gdy że to ten ta te ci jego jej ich
    według wobec podczas między około mimo dzięki także jednak
    в во на с со к ко по за из от до у о об при для без через над под и а но или что как это этот эта эти его ее их
    він вона воно вони та й і у з із зі до від для про при над під що як це цей ця ці його її їх уночі
    компания компанія spółka firma
    """
)

# Lower-case role and title words that, right before a capitalised name, mark it as a person.
ROLE_CUES_INTL = _words(
    """
    präsident präsidentin kanzler kanzlerin minister ministerin trainer chef chefin sprecher sprecherin
    président présidente ministre premier roi reine maire entraîneur directeur directrice chanteuse chanteur
    secrétaire porte-parole juge sénateur député députée général
    presidente presidenta ministro ministra rey reina alcalde alcaldesa entrenador juez jueza portavoz
    delegado delegada consejero consejera fiscal empresario empresaria magistrado senador senadora
    sindaco allenatore premier segretaria segretario senatore portavoce
    primeiro-ministro treinador governador governadora presidente ministra
    premier prezydent prezydenta minister prezes trener rzecznik marszałek wojewoda
    президент президента премьер-министр премьер-министром министр глава главы губернатор тренер нападающий
    корреспондент спикер председатель посол мэр губернатора мэра министра председателя
    президент прем'єр-міністр прем'єр-міністром міністр голова тренер речник посол мер
    statsminister statsministern minister ministern vd tränaren tränare ordförande talesperson
    leiter leiterin vorstand geschäftsführer geschäftsführerin intendant
    amministratore governatore presidentessa autarca
    voorzitter premier burgemeester minister woordvoerder trainer
    """
)

# Capitalised titles (German nouns; titles that open a sentence): cut off, and a person follows.
CORE_TITLES_INTL = _words(
    """
    bundeskanzler bundeskanzlerin kanzler kanzlerin präsident präsidentin bundespräsident bundespräsidentin
    ministerpräsident ministerpräsidentin bundesminister bundesministerin minister ministerin trainer
    landesbischof bischof bürgermeister bürgermeisterin oberbürgermeister oberbürgermeisterin
    außenminister außenministerin verteidigungsminister verteidigungsministerin finanzminister
    finanzministerin innenminister innenministerin wirtschaftsminister wirtschaftsministerin
    sprecher sprecherin vorsitzende vorsitzender chef chefin papst könig königin richter richterin
    président présidente ministre maire roi reine
    presidente presidenta ministro ministra alcalde rey reina
    prezydent prezes
    президент министр глава премьер-министр тренер губернатор мэр председатель
    президент міністр голова прем'єр-міністр тренер губернатор мер
    statsminister leiter leiterin vorstand geschäftsführer geschäftsführerin
    """
)

# Verbs of saying (3rd person past / present), for "X sagte" / "sagte X".
SPEECH_VERBS_INTL = _words(
    """
    sagte sagt sagten erklärte erklärt betonte betont teilte kritisierte forderte warnte schrieb lobte
    déclare déclaré affirmé affirme annoncé explique expliqué estime souligné
    dijo afirmó declaró explicó aseguró anunció señaló indicó criticó pidió
    disse detto dichiarato spiegato affermato annunciato afirmou declarou explicou anunciou
    zei verklaarde
    säger sade sa meddelar uppger berättar skriver
    powiedział powiedziała zapowiedział zapowiedziała poinformował poinformowała oświadczył podkreślił
    сказал сказала заявил заявила сообщил сообщила отметил подчеркнул
    сказав сказала заявив заявила повідомив повідомила зазначив
    """
)

# Common given names in these languages (lower case; Cyrillic as written).
FIRST_NAMES_INTL = _words(
    """
    uwe jörg jürgen dieter günter günther horst manfred rainer bernd ralf ralph frank holger volker
    christian christoph claus clemens detlef dirk heiko heinz helge ingo jens kai knut lutz matthias
    norbert olaf reinhard roland rudolf sigmar thorsten torsten ulrich ulf werner wilfried winfried
    annalena annegret birgit brigitte christa doris elke gabriele gudrun heike ilse jutta karin katrin
    kerstin manuela monika petra renate sabine sigrid silke susanne ulla ulrike ute
    alain bernard bruno christophe didier dominique emmanuel étienne fabien françois gaspard gérald gérard
    guillaume hervé jean-marc jean-michel jean-yves jérôme loïc luc marcel mathilde michel nicolas ousmane
    pascal patrice raphaël rémi sébastien thierry valérie véronique yannick élisabeth édouard gabriel
    agnès amélie anne-marie brigitte cécile chantal clémence delphine élise éric eugénie hélène isabelle
    josé juliette marine marion marylise nathalie ségolène simone sylvie
    ángel álvaro alfonso andrés antonio carlos césar cristina enrique esteban federico fernando gonzalo
    ignacio íñigo jaime jesús joaquín josu jorge julio marta mercedes pilar ramón rocío salvador teresa
    xavi yolanda begoña consuelo dolores inés isabel macarena montserrat núria nuria soledad
    adolfo alessandra alessio andrea angelo beppe carla carlo claudio cristiano dario elly emanuele
    enrico ettore fabio filippo franco gianluca gianni gigi giorgio giulio giuseppe guido ignazio
    lamberto luca luciano luigi marcello massimo matteo maurizio mauro nicola paolo pier piero pietro
    raffaele renzo riccardo roberto romano sergio silvia simona simone stefano tommaso umberto vincenzo
    antónio augusto beatriz catarina duarte eduardo fábio filipe gonçalo henrique inês joana jorge
    luís marcelo margarida mário miguel nuno rui sérgio tiago vasco magda
    anders bengt björn erik göran gunnar håkan henrik jonas karin kristina lena magdalena mikael
    ola olof per stefan sten ulf åsa ebba
    adam agnieszka andrzej anna barbara beata bogdan borys dariusz donald elżbieta ewa grzegorz
    henryk ireneusz jacek jakub janusz jerzy joanna józef kamil katarzyna krzysztof leszek łukasz
    maciej małgorzata marcin marek mariusz michał monika radosław rafał ryszard sławomir stanisław
    szymon tadeusz tomasz waldemar wiesław witold władysław wojciech zbigniew zofia
    александр алексей анатолий андрей анна антон борис вадим валентин валентина валерий василий
    вера виктор виктория виталий владимир владислав вячеслав галина геннадий георгий григорий дарья
    денис дмитрий евгений евгения екатерина елена иван игорь илья ирина кирилл константин ксения
    лариса леонид людмила максим марина мария михаил наталья николай нина олег ольга павел петр
    роман руслан светлана сергей станислав татьяна тимур юлия юрий яков айсен рамзан андрей анвар
    андрій богдан василь віктор віталій володимир вадим геннадій денис дмитро євген іван ігор ірина
    кирило кір марина микола михайло олег олександр олексій олена ольга павло петро роман руслан
    сергій тарас юлія юрій ярослав георгій марино
    """
)

# Organisations without a legal suffix that the rules cannot tell from a place or a person.
KNOWN_ORGS_INTL: dict[str, str] = {
    "Deutsche Bahn": "Deutsche Bahn",
    "Bundesregierung": "Bundesregierung",
    "Bundeswehr": "Bundeswehr",
    "Bundesrat": "Bundesrat",
    "SPD": "SPD",
    "CDU": "CDU",
    "CSU": "CSU",
    "FDP": "FDP",
    "AfD": "AfD",
    "Grünen": "Bündnis 90/Die Grünen",
    "Siemens": "Siemens",
    "Commerzbank": "Commerzbank",
    "Deutsche Bank": "Deutsche Bank",
    "Lufthansa": "Lufthansa",
    "Assemblée nationale": "Assemblée nationale",
    "Élysée": "Élysée",
    "Elysée": "Élysée",
    "Rassemblement national": "Rassemblement national",
    "Renault": "Renault",
    "Commission européenne": "European Commission",
    "Comisión Europea": "European Commission",
    "Commissione europea": "European Commission",
    "Comissão Europeia": "European Commission",
    "Union européenne": "European Union",
    "Unión Europea": "European Union",
    "Unione europea": "European Union",
    "União Europeia": "European Union",
    "Europäische Union": "European Union",
    "UE": "European Union",
    "ONU": "United Nations",
    "OTAN": "NATO",
    "FMI": "International Monetary Fund",
    "Naciones Unidas": "United Nations",
    "Nazioni Unite": "United Nations",
    "Vereinten Nationen": "United Nations",
    "Nations unies": "United Nations",
    "PSOE": "PSOE",
    "PP": "Partido Popular",
    "Vox": "Vox",
    "Repsol": "Repsol",
    "Telefónica": "Telefónica",
    "Pd": "Partito Democratico",
    "PD": "Partito Democratico",
    "Lega": "Lega",
    "Forza Italia": "Forza Italia",
    "Fratelli d'Italia": "Fratelli d'Italia",
    "Stellantis": "Stellantis",
    "Fiat": "Fiat",
    "Eni": "Eni",
    "Petrobras": "Petrobras",
    "PiS": "Prawo i Sprawiedliwość",
    "Orlen": "Orlen",
    "Кремль": "Kremlin",
    "Кремле": "Kremlin",
    "Газпром": "Gazprom",
    "Газпрома": "Gazprom",
    "ТАСС": "TASS",
    "НАТО": "NATO",
    "ООН": "United Nations",
    "ЕС": "European Union",
    "МЧС": "МЧС",
    "Volvo": "Volvo",
    "Ikea": "Ikea",
    "IKEA": "Ikea",
    "Nato": "NATO",
    "Natos": "NATO",
}

# Titles of clubs and national sides written like places in sports reports.
SPORTS_WORDS = _words(
    """
    beat beats won draw drew lost defeat defeated match game goal goals scored score striker midfielder
    defender goalkeeper coach manager league cup final semi-final quarter-final season derby
    spiel tor tore trainer saison liga pokal sieg niederlage gewonnen
    match but buts entraîneur ligue victoire défaite saison
    partido gol goles entrenador liga victoria derrota temporada
    partita gol allenatore campionato vittoria sconfitta stagione
    jogo golo golos treinador campeonato vitória derrota
    mecz gol bramki trener liga zwycięstwo porażka
    матч гол тренер чемпионат победа поражение
    матч гол тренер чемпіонат перемога поразка
    match mål tränaren allsvenskan seger förlust
    """
)

# Country names as news in these languages write them, where pycountry's translation is the formal
# name ("Russische Föderation") or missing.
COUNTRY_NAMES_INTL: dict[str, str] = {
    "Russland": "RU",
    "Russie": "RU",
    "Rusia": "RU",
    "Rússia": "RU",
    "Rosja": "RU",
    "Ryssland": "RU",
    "Rusland": "RU",
    "Россия": "RU",
    "Росія": "RU",
    "USA": "US",
    "Vereinigte Staaten": "US",
    "États-Unis": "US",
    "Estados Unidos": "US",
    "Stati Uniti": "US",
    "Stany Zjednoczone": "US",
    "Verenigde Staten": "US",
    "США": "US",
    "Сполучені Штати": "US",
    "Großbritannien": "GB",
    "Grande-Bretagne": "GB",
    "Gran Bretaña": "GB",
    "Gran Bretagna": "GB",
    "Grã-Bretanha": "GB",
    "Wielka Brytania": "GB",
    "Storbritannien": "GB",
    "Groot-Brittannië": "GB",
    "Великобритания": "GB",
    "Велика Британія": "GB",
    "Британия": "GB",
    "Iran": "IR",
    "Иран": "IR",
    "Syrien": "SY",
    "Syrie": "SY",
    "Siria": "SY",
    "Сирия": "SY",
    "Südkorea": "KR",
    "Corée du Sud": "KR",
    "Corea del Sur": "KR",
    "Nordkorea": "KP",
    "Corée du Nord": "KP",
    "Türkei": "TR",
    "Turquie": "TR",
    "Turquía": "TR",
    "Turchia": "TR",
    "Turcja": "TR",
    "Турция": "TR",
    "Туреччина": "TR",
    "Venezuela": "VE",
    "Vietnam": "VN",
    "Taiwan": "TW",
    "Moldau": "MD",
    "Moldawien": "MD",
    "Tschechien": "CZ",
    "Tchéquie": "CZ",
    "Chequia": "CZ",
    "Czechy": "CZ",
    "RFN": "DE",
    "ФРГ": "DE",
    "Украина": "UA",
    "Україна": "UA",
    "Ukraina": "UA",
    "Китай": "CN",
    "Германия": "DE",
    "Франция": "FR",
    "Польша": "PL",
    "Белоруссия": "BY",
    "Беларусь": "BY",
    "Білорусь": "BY",
    "Німеччина": "DE",
    "Франція": "FR",
    "Польща": "PL",
    "Китай ": "CN",
    "Америка": "US",
    # the United States in other cases (Polish, Russian, Ukrainian): a name of two inflected words
    "Stanów Zjednoczonych": "US",
    "Stanach Zjednoczonych": "US",
    "Stanom Zjednoczonym": "US",
    "Stanami Zjednoczonymi": "US",
    "Соединенных Штатов": "US",
    "Соединенным Штатам": "US",
    "Соединенными Штатами": "US",
    "Соединенные Штаты": "US",
    "Сполучених Штатів": "US",
    "Сполученим Штатам": "US",
    "Сполученими Штатами": "US",
}

# Word endings of Polish, Russian and Ukrainian place names in other cases -> the nominative
# ("w Warszawie" -> Warszawa, "в Москве" -> Москва, "у Києві" -> Київ); tried in turn when the
# form as written is not a name.
INFLECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "pl": (
        ("owie", "ów"),
        ("ście", "st"),
        ("cie", "t"),
        ("dzie", "d"),
        ("rze", "r"),
        ("niu", "ń"),
        ("ji", "ja"),
        ("ii", "ia"),
        ("ce", "ka"),
        ("dze", "ga"),
        ("ie", "a"),
        ("ie", ""),
        ("ę", "a"),
        ("y", "a"),
        ("y", ""),
        ("u", "o"),
        ("u", ""),
        ("em", ""),
        ("ą", "a"),
        ("ech", "y"),
        ("a", ""),
    ),
    "ru": (
        ("ии", "ия"),
        ("ие", "ия"),
        ("ию", "ия"),
        ("ией", "ия"),
        ("ой", "а"),
        ("ом", ""),
        ("ем", ""),
        ("ью", "ь"),
        ("е", "а"),
        ("е", ""),
        ("и", "а"),
        ("и", "я"),
        ("ы", "а"),
        ("у", "а"),
        ("у", ""),
        ("ю", "я"),
        ("а", ""),
        ("я", "ь"),
        ("е", "ь"),
    ),
    "uk": (
        ("єві", "їв"),
        ("єва", "їв"),
        ("євом", "їв"),
        ("ією", "ія"),
        ("ії", "ія"),
        ("ою", "а"),
        ("ом", ""),
        ("і", "а"),
        ("і", ""),
        ("и", "а"),
        ("у", "а"),
        ("у", ""),
        ("ю", "я"),
        ("а", ""),
        ("і", "ь"),
        ("ю", "ь"),
    ),
}

# Regions that are no country and no first-level division: (slug, country or None, names, lat, lon).
# Ids are ``region:<slug>``.
MACRO_REGIONS: list[tuple[str, str | None, tuple[str, ...], float, float]] = [
    (
        "middle-east",
        None,
        (
            "Middle East",
            "Nahen Osten",
            "Nahost",
            "Moyen-Orient",
            "Oriente Medio",
            "Medio Oriente",
            "Oriente Médio",
            "Bliski Wschód",
            "Ближний Восток",
            "Близький Схід",
            "Mellanöstern",
            "Midden-Oosten",
        ),
        29.0,
        41.0,
    ),
    ("east-africa", None, ("East Africa", "Ostafrika", "Afrique de l'Est", "África Oriental"), 1.0, 38.0),
    ("west-africa", None, ("West Africa", "Westafrika", "Afrique de l'Ouest", "África Occidental"), 12.0, -3.0),
    ("horn-of-africa", None, ("Horn of Africa", "Horn von Afrika", "Corne de l'Afrique", "Cuerno de África"), 8.0, 45.0),
    ("sahel", None, ("Sahel",), 15.0, 5.0),
    ("balkans", None, ("Balkans", "Balkan", "Balkanes", "Bałkany", "Балканы"), 43.0, 21.0),
    ("scandinavia", None, ("Scandinavia", "Skandinavien", "Scandinavie", "Escandinavia"), 62.0, 15.0),
    ("caucasus", None, ("Caucasus", "Kaukasus", "Caucase", "Cáucaso", "Кавказ"), 42.0, 44.0),
    ("central-asia", None, ("Central Asia", "Zentralasien", "Asie centrale", "Asia Central"), 45.0, 68.0),
    (
        "southeast-asia",
        None,
        ("Southeast Asia", "South-East Asia", "Südostasien", "Asie du Sud-Est", "Sudeste Asiático"),
        10.0,
        106.0,
    ),
    (
        "latin-america",
        None,
        (
            "Latin America",
            "Lateinamerika",
            "Amérique latine",
            "América Latina",
            "America Latina",
            "Ameryka Łacińska",
            "Латинская Америка",
        ),
        -10.0,
        -60.0,
    ),
    ("caribbean", None, ("Caribbean", "Karibik", "Caraïbes", "Caribe", "Caraibi"), 17.0, -70.0),
    ("arctic", None, ("Arctic", "Arktis", "Arctique", "Ártico", "Artico", "Arktyka", "Арктика"), 78.0, 0.0),
    ("eurozone", None, ("Eurozone",), 50.0, 10.0),
    ("siberia", "RU", ("Siberia", "Sibirien", "Sibérie", "Syberia", "Сибирь", "Сибір"), 60.0, 100.0),
    ("russian-far-east", "RU", ("Russian Far East", "Far East"), 60.0, 140.0),
    ("donbas", "UA", ("Donbas", "Donbass", "Донбасс", "Донбас"), 48.0, 38.0),
]
