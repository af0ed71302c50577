"""Word lists and formats the synthetic marketplace draws from (per country).

Countries are indexed in the order of ``COUNTRIES``; every per-country table
below follows that order. Phone templates use ``#`` for the next digit of the
10-digit national significant number; the first template of each country is
E.164.
"""

from __future__ import annotations

from typing import Final

COUNTRIES: Final = ("US", "RU", "DE", "GB")
COUNTRY_WEIGHTS: Final = (0.35, 0.30, 0.20, 0.15)
CURRENCIES: Final = ("USD", "RUB", "EUR", "GBP")
#: a typical basket in each currency (median of the order amount)
BASKET: Final = (45.0, 3000.0, 40.0, 35.0)
#: new-user coupon per country: code, minimum order amount, fixed discount
NEW_USER_COUPON: Final = (("WELCOME10", 25.0, 10.0), ("NOVICHOK700", 2000.0, 700.0),
                          ("WILLKOMMEN10", 25.0, 10.0), ("HELLO8", 20.0, 8.0))
PROMO_CODES: Final = ("SPRING24", "SUMMER25", "BLACKFRIDAY", "CYBER20", "BACK2SCHOOL",
                      "WINTER23", "FLASH15")

FIRST_NAMES: Final = (
    ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
     "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
     "Chris", "Karen", "Daniel", "Emily", "Matthew", "Ashley", "Anthony", "Megan", "Kevin", "Amanda",
     "Brian", "Laura", "Jason", "Rachel", "Ryan", "Nicole", "Eric", "Olivia"),
    ("Aleksandr", "Anna", "Dmitry", "Elena", "Sergey", "Olga", "Andrey", "Tatiana", "Alexey",
     "Natalia", "Ivan", "Irina", "Mikhail", "Svetlana", "Nikolay", "Maria", "Vladimir", "Ekaterina",
     "Pavel", "Yulia", "Artem", "Anastasia", "Maxim", "Marina", "Igor", "Daria", "Roman", "Ksenia",
     "Oleg", "Polina", "Yuri", "Sofia", "Denis", "Alina", "Kirill", "Vera"),
    ("Lukas", "Anna", "Leon", "Lea", "Finn", "Hannah", "Jonas", "Lena", "Paul", "Laura", "Felix",
     "Julia", "Maximilian", "Sarah", "Tim", "Katharina", "Jan", "Sophie", "Niklas", "Lisa", "Stefan",
     "Sabine", "Michael", "Petra", "Thomas", "Claudia", "Andreas", "Monika", "Markus", "Nicole",
     "Tobias", "Miriam", "Florian", "Franziska", "Sebastian", "Jana"),
    ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie", "Sophia",
     "Thomas", "Grace", "Oscar", "Lily", "William", "Freya", "James", "Ella", "Alfie", "Poppy",
     "Joshua", "Chloe", "Daniel", "Jessica", "Samuel", "Lucy", "Henry", "Evie", "Leo", "Ruby",
     "Ethan", "Holly", "Archie", "Megan", "Noah", "Hannah"),
)
LAST_NAMES: Final = (
    ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
     "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
     "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
     "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
     "Mitchell", "Roberts"),
    ("Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov",
     "Novikov", "Fedorov", "Morozov", "Volkov", "Alekseev", "Lebedev", "Semenov", "Egorov",
     "Pavlov", "Kozlov", "Stepanov", "Nikolaev", "Orlov", "Andreev", "Makarov", "Nikitin",
     "Zakharov", "Zaitsev", "Soloviev", "Borisov", "Yakovlev", "Grigoriev", "Romanov", "Vorobiev",
     "Sergeev", "Kuzmin", "Frolov", "Belov", "Gusev", "Titov", "Kiselev", "Tarasov"),
    ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
     "Hoffmann", "Schaefer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schroeder", "Neumann",
     "Schwarz", "Zimmermann", "Braun", "Krueger", "Hofmann", "Hartmann", "Lange", "Schmitt",
     "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Koehler",
     "Herrmann", "Koenig", "Walter", "Mayer", "Huber"),
    ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
     "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
     "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
     "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee",
     "Allen", "Morris", "Khan"),
)
STREETS: Final = (
    ("Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
     "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "Highland", "Madison", "River", "Spring",
     "Franklin", "Chestnut", "Willow", "Jefferson", "Center", "Ridge", "Meadow", "Forest", "Union",
     "Broad", "Market", "Dogwood", "Magnolia", "Sycamore", "Adams", "Hickory", "Valley"),
    ("Lenina", "Sovetskaya", "Mira", "Molodezhnaya", "Tsentralnaya", "Shkolnaya", "Novaya",
     "Sadovaya", "Lesnaya", "Naberezhnaya", "Pushkina", "Gagarina", "Kirova", "Lermontova",
     "Chekhova", "Gorkogo", "Pobedy", "Zelenaya", "Polevaya", "Stroiteley", "Oktyabrskaya",
     "Komsomolskaya", "Pervomayskaya", "Rabochaya", "Sportivnaya", "Zavodskaya", "Yuzhnaya",
     "Severnaya", "Lugovaya", "Rechnaya", "Tolstogo", "Suvorova", "Kutuzova", "Frunze", "Mayakovskogo",
     "Dostoevskogo"),
    ("Haupt", "Schul", "Garten", "Bahnhof", "Dorf", "Berg", "Linden", "Kirch", "Wald", "Ring",
     "Schiller", "Goethe", "Friedhof", "Mozart", "Beethoven", "Eichen", "Birken", "Rosen", "Wiesen",
     "Sonnen", "Industrie", "Feld", "Muehlen", "Post", "Tal", "Jahn", "Blumen", "Kastanien",
     "Buchen", "Ahorn", "Tannen", "Feldberg", "Brunnen", "Markt", "Kant", "Heine"),
    ("High", "Station", "Main", "Park", "Church", "London", "Victoria", "Green", "Manor", "Kings",
     "Queens", "Grange", "Mill", "New", "School", "North", "South", "West", "Albert", "Springfield",
     "Windsor", "Richmond", "York", "Alexandra", "Chester", "Stanley", "Oxford", "Cambridge",
     "Highfield", "Orchard", "Kingsway", "Broadway", "Meadow", "Beech", "Elm", "Willow"),
)
#: (city, region, postal prefix): US ZIP's first 3 digits, RU's first 3, DE's first 2, GB outward area
CITIES: Final = (
    (("New York", "NY", "100"), ("Los Angeles", "CA", "900"), ("Chicago", "IL", "606"),
     ("Houston", "TX", "770"), ("Phoenix", "AZ", "850"), ("Philadelphia", "PA", "191"),
     ("San Antonio", "TX", "782"), ("San Diego", "CA", "921"), ("Dallas", "TX", "752"),
     ("Seattle", "WA", "981"), ("Boston", "MA", "021"), ("Denver", "CO", "802")),
    (("Moskva", "Moskva", "101"), ("Sankt-Peterburg", "Sankt-Peterburg", "190"),
     ("Novosibirsk", "Novosibirskaya obl.", "630"), ("Ekaterinburg", "Sverdlovskaya obl.", "620"),
     ("Kazan", "Tatarstan", "420"), ("Nizhny Novgorod", "Nizhegorodskaya obl.", "603"),
     ("Samara", "Samarskaya obl.", "443"), ("Omsk", "Omskaya obl.", "644"),
     ("Rostov-na-Donu", "Rostovskaya obl.", "344"), ("Ufa", "Bashkortostan", "450"),
     ("Krasnoyarsk", "Krasnoyarskiy kray", "660"), ("Voronezh", "Voronezhskaya obl.", "394")),
    (("Berlin", "Berlin", "10"), ("Hamburg", "Hamburg", "20"), ("Muenchen", "Bayern", "80"),
     ("Koeln", "Nordrhein-Westfalen", "50"), ("Frankfurt am Main", "Hessen", "60"),
     ("Stuttgart", "Baden-Wuerttemberg", "70"), ("Duesseldorf", "Nordrhein-Westfalen", "40"),
     ("Leipzig", "Sachsen", "04"), ("Dortmund", "Nordrhein-Westfalen", "44"),
     ("Essen", "Nordrhein-Westfalen", "45"), ("Bremen", "Bremen", "28"), ("Dresden", "Sachsen", "01")),
    (("London", "Greater London", "SW"), ("Birmingham", "West Midlands", "B"),
     ("Manchester", "Greater Manchester", "M"), ("Leeds", "West Yorkshire", "LS"),
     ("Glasgow", "Scotland", "G"), ("Liverpool", "Merseyside", "L"), ("Bristol", "Bristol", "BS"),
     ("Sheffield", "South Yorkshire", "S"), ("Edinburgh", "Scotland", "EH"),
     ("Leicester", "Leicestershire", "LE"), ("Coventry", "West Midlands", "CV"),
     ("Nottingham", "Nottinghamshire", "NG")),
)
#: mail domains per country with their weights; ``gmail.com`` first everywhere
EMAIL_DOMAINS: Final = (
    (("gmail.com", 0.50), ("yahoo.com", 0.15), ("outlook.com", 0.15), ("icloud.com", 0.10),
     ("hotmail.com", 0.10)),
    (("gmail.com", 0.30), ("mail.ru", 0.30), ("yandex.ru", 0.30), ("bk.ru", 0.10)),
    (("gmail.com", 0.35), ("gmx.de", 0.25), ("web.de", 0.25), ("t-online.de", 0.15)),
    (("gmail.com", 0.45), ("hotmail.co.uk", 0.20), ("outlook.com", 0.20),
     ("btinternet.com", 0.15)),
)
PLUS_TAGS: Final = ("shop", "market", "deals", "promo", "orders", "1", "buy")
#: national numbers: a fixed first digits prefix then random digits (10 digits in all)
PHONE_PREFIXES: Final = (
    ("212", "310", "312", "415", "617", "646", "713", "206", "303", "404", "512", "602"),
    ("903", "905", "909", "915", "916", "925", "926", "961", "977", "985", "999", "912"),
    ("151", "152", "160", "162", "170", "171", "172", "173", "174", "175", "176", "177"),
    ("740", "745", "750", "770", "771", "777", "780", "783", "790", "791", "795", "798"),
)
PHONE_TEMPLATES: Final = (
    ("+1##########", "(###) ###-####", "###-###-####", "###.###.####", "1 ### ### ####",
     "##########", "+1 ###-###-####"),
    ("+7##########", "+7 (###) ###-##-##", "8 ### ###-##-##", "8##########", "8(###)###-##-##",
     "##########", "+7 ### ### ## ##"),
    ("+49##########", "+49 ### #######", "0### #######", "0###/#######", "+49 (0)### #######",
     "0049 ### #######", "0##########"),
    ("+44##########", "+44 #### ######", "0#### ######", "0##########", "(0####) ### ###",
     "0044 #### ######", "+44 (0)#### ######"),
)
#: card BIN prefixes per country (Mir's 220x in RU)
CARD_BINS: Final = (
    ("414720", "426684", "440066", "517805", "542418", "552433", "601100", "371449"),
    ("220070", "220220", "427601", "427901", "546901", "548673", "220015", "415482"),
    ("410039", "455600", "492181", "512345", "535522", "548800", "404159", "520473"),
    ("465859", "475129", "454313", "492900", "535600", "557347", "446272", "476173"),
)
#: pickup points and parcel lockers: (line1 pattern with a number, brand for line2)
PICKUP_POINTS: Final = (
    ("Parcel Locker #{n}", "Pickup Point {n}"),
    ("Pickup point PVZ {n}", "Postamat {n}"),
    ("Packstation {n}", "Paketshop Pickup Point {n}"),
    ("InPost Parcel Locker {n}", "Pickup Point {n}"),
)
COMPANIES: Final = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli",
                    "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Aperture", "Gringotts",
                    "Oscorp", "Wonka", "Massive Dynamic")
SANCTION_REASONS: Final = {
    "farm": ("coupon_abuse", "multi_accounting", "promo_fraud"),
    "violator": ("fraud", "chargeback_abuse", "counterfeit_goods", "harassment"),
    "minor": ("late_payment", "abusive_review", "rating_manipulation", "return_abuse"),
}
