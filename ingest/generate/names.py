"""Embedded name lists for synthetic people.

Common US given names and surnames, plus a few with accents, apostrophes and hyphens so every feed
carries non-ASCII UTF-8 and characters that naive CSV or SQL handling breaks on.
"""

from __future__ import annotations

import unicodedata

# fmt: off
MALE_FIRST_NAMES: tuple[str, ...] = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
    "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
    "Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry",
    "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Ethan",
    "Walter", "Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold", "Sean",
    "Austin", "Carl", "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy", "Joe", "Bruce",
    "Gabriel", "Logan", "Albert", "Willie", "Alan", "Juan", "Wayne", "Elijah", "Randy", "Roy", "Vincent",
    "Ralph", "Eugene", "Russell", "Bobby", "Mason", "Philip", "Louis", "Liam", "Oliver", "Lucas", "Aiden",
    "Caleb", "Owen", "Wyatt", "Luke", "Isaac", "Levi", "Hunter", "Connor", "Evan", "Jaxon", "Julian",
    "Landon", "Carlos", "Luis", "Miguel", "Diego", "Mateo", "Santiago", "Ahmed", "Omar", "Hassan", "Wei",
    "Hiroshi", "Raj", "Arjun", "Vikram", "Dmitri", "Ivan", "Sergei", "Kwame", "Chinedu", "Tariq",
    "Mohammed", "Yusuf", "Elias", "Felix", "José", "André", "François", "Jürgen", "Søren", "Björn", "Nuño",
    "Íñigo", "Rhys", "Seamus", "Desmond", "Leroy", "Marcus", "Terrence", "Darnell", "Cedric", "Malik",
    "Jamal", "Andre", "Reginald", "Harvey", "Clarence", "Earl", "Herbert", "Stanley", "Leonard", "Howard",
    "Norman", "Milton", "Chester",
)
# fmt: on

# fmt: off
FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura",
    "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole",
    "Helen", "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine",
    "Maria", "Heather", "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly",
    "Lauren", "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline",
    "Martha", "Gloria", "Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean",
    "Abigail", "Alice", "Judy", "Sophia", "Grace", "Denise", "Amber", "Doris", "Marilyn", "Danielle",
    "Beverly", "Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte", "Marie", "Kayla",
    "Alexis", "Lori", "Ava", "Mia", "Harper", "Amelia", "Ella", "Scarlett", "Chloe", "Zoey", "Layla",
    "Nora", "Lily", "Aaliyah", "Riley", "Aria", "Penelope", "Camila", "Luna", "Valentina", "Ximena",
    "Lucia", "Mei", "Yuki", "Priya", "Ananya", "Fatima", "Aisha", "Leila", "Noor", "Olga", "Svetlana",
    "Ngozi", "Amara", "Chiamaka", "Keisha", "Tamika", "Latoya", "Ebony", "Imani", "Shanice", "Monique",
    "Zoë", "Renée", "Chloé", "Inès", "Björk", "Małgorzata", "Siobhán", "Aoife", "Dagný", "Ana-Lucía",
    "Edna", "Mildred", "Gladys", "Agnes", "Ethel", "Bernice", "Florence", "Irene", "Lois", "Vera", "Rosa",
    "Carmen", "Guadalupe", "Esperanza", "Mercedes", "Paloma", "Beatriz", "Consuelo", "Dolores", "Pilar",
)
# fmt: on

# fmt: off
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
    "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins",
    "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales",
    "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson",
    "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens",
    "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry",
    "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter",
    "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren",
    "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto",
    "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold",
    "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott", "Cunningham",
    "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado",
    "Berry", "Perkins", "Hoffman", "Johnston", "Matthews", "Pena", "Richards", "Contreras", "Willis",
    "Carpenter", "Lawrence", "Sandoval", "Guerrero", "George", "Chapman", "Rios", "Estrada", "Ortega",
    "Watkins", "Greene", "Nunez", "Wheeler", "Valdez", "Harper", "Burke", "Larson", "Santiago", "Maldonado",
    "Morrison", "Franklin", "Carlson", "Austin", "Dominguez", "Carr", "Lawson", "Jacobs", "Obrien", "Lynch",
    "Singh", "Vega", "Bishop", "Montgomery", "Oliver", "Jensen", "Harvey", "Williamson", "Gilbert", "Dean",
    "Sims", "Espinoza", "Howell", "Li", "Wong", "Reid", "Hanson", "Le", "McCoy", "Garrett", "Burton",
    "Fuller", "Wang", "Weber", "Welch", "Rojas", "Lucas", "Marquez", "Fields", "Park", "Yang", "Little",
    "Banks", "Padilla", "Walsh", "Bowman", "Schultz", "Luna", "Fowler", "Mejia", "Davidson",
    "Acosta", "Brewer", "May", "Holland", "Juarez", "Newman", "Pearson", "Curtis", "Cortez", "Douglas",
    "Schneider", "Joseph", "Barrett", "Navarro", "Figueroa", "Keller", "Avila", "Wade", "Molina", "Stanley",
    "Hopkins", "Campos", "Barnett", "Bates", "Chambers", "Caldwell", "Beck", "Lambert", "Miranda", "Byrd",
    "Craig", "Ayala", "Lowe", "Frazier", "Powers", "Okafor", "Adeyemi", "Mensah", "Haddad", "Nakamura",
    "Tanaka", "Kowalski", "Nowak", "Ivanova", "Petrov", "O'Brien", "O'Connor", "D'Angelo", "McAllister",
    "Smith-Jones", "García", "Núñez", "Müller", "Nguyễn", "Ødegaard", "Ferreira-Lopes", "De la Cruz",
    "Van der Berg", "St. John", "Łukasik", "Øster", "Gómez",
)
# fmt: on

# Informal forms the roster sometimes holds where the clinic has the formal one: name conflicts that
# the refined layer must resolve without treating them as different people.
# fmt: off
NICKNAMES: dict[str, str] = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate", "Michael": "Mike",
    "James": "Jim", "Jennifer": "Jen", "Margaret": "Peggy", "Richard": "Rick", "Joseph": "Joe",
    "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan", "Patricia": "Pat", "Susan": "Sue",
    "Deborah": "Debbie", "Anthony": "Tony", "Alexander": "Alex", "Nicholas": "Nick", "Samantha": "Sam",
    "Jonathan": "Jon", "Benjamin": "Ben", "Matthew": "Matt", "Andrew": "Andy", "Rebecca": "Becky",
    "Kimberly": "Kim", "Victoria": "Vicky", "Christine": "Chris", "Theresa": "Terry", "Gregory": "Greg",
}
# fmt: on


def ascii_fold(text: str) -> str:
    """Lowercase ASCII letters only: what an e-mail local part built from a name can hold."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalpha()).lower()


# Folding is slow relative to generating a row, so do it once per name rather than per person.
FOLDED: dict[str, str] = {
    name: ascii_fold(name) or "x" for name in (*MALE_FIRST_NAMES, *FEMALE_FIRST_NAMES, *LAST_NAMES)
}
