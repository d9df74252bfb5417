package fakeentra

// name is a given name or surname with the ASCII form used in addresses.
type name struct{ display, ascii string }

// culture is a naming tradition: its names, and whether the surname comes
// first in a display name without a space (as in Chinese).
type culture struct {
	given, surnames []name
	surnameFirst    bool
}

// Cultures, indexed by the constants below; offices refer to them.
const (
	cultEnglish = iota
	cultSpanish
	cultGerman
	cultFrench
	cultPolish
	cultNordic
	cultChinese
	cultIndian
	cultIrish
	cultJapanese
	cultPortuguese
	numCultures
)

var cultures = [numCultures]culture{
	cultEnglish: {
		given: []name{{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Jennifer", "jennifer"}, {"Michael", "michael"},
			{"Linda", "linda"}, {"David", "david"}, {"Elizabeth", "elizabeth"}, {"Mary-Kate", "mary-kate"}, {"Chloë", "chloe"}, {"Jane", "jane"}},
		surnames: []name{{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"}, {"Taylor", "taylor"},
			{"Davis", "davis"}, {"Clarke", "clarke"}, {"Smith-Jones", "smith-jones"}, {"Doe", "doe"}, {"Walker", "walker"}},
	},
	cultSpanish: {
		given: []name{{"José", "jose"}, {"María", "maria"}, {"Sofía", "sofia"}, {"Ángel", "angel"}, {"Lucía", "lucia"},
			{"Iñaki", "inaki"}, {"Mónica", "monica"}, {"Raúl", "raul"}, {"Begoña", "begona"}, {"Jesús", "jesus"}},
		surnames: []name{{"Álvarez", "alvarez"}, {"García", "garcia"}, {"Martínez", "martinez"}, {"Fernández", "fernandez"},
			{"Núñez", "nunez"}, {"Peña", "pena"}, {"Gómez", "gomez"}, {"Ibáñez", "ibanez"}, {"García-Márquez", "garcia-marquez"}, {"Ruiz", "ruiz"}},
	},
	cultGerman: {
		given: []name{{"Jürgen", "jurgen"}, {"Zoë", "zoe"}, {"Günther", "gunther"}, {"Käthe", "kathe"}, {"Lukas", "lukas"},
			{"Anna-Lena", "anna-lena"}, {"Matthias", "matthias"}, {"Jörg", "jorg"}, {"Leonie", "leonie"}, {"Uwe", "uwe"}},
		surnames: []name{{"Müller", "muller"}, {"Schäfer", "schafer"}, {"Weiß", "weiss"}, {"Groß", "gross"}, {"Köhler", "kohler"},
			{"Schmidt", "schmidt"}, {"Becker", "becker"}, {"Meyer-Lüdenscheid", "meyer-ludenscheid"}, {"Hoffmann", "hoffmann"}, {"Vogel", "vogel"}},
	},
	cultFrench: {
		given: []name{{"François", "francois"}, {"Hélène", "helene"}, {"Jérôme", "jerome"}, {"Amélie", "amelie"}, {"Noël", "noel"},
			{"Jean-Luc", "jean-luc"}, {"Anaïs", "anais"}, {"Céline", "celine"}, {"Loïc", "loic"}, {"Margaux", "margaux"}},
		surnames: []name{{"Lefèvre", "lefevre"}, {"Dubois", "dubois"}, {"Bélanger", "belanger"}, {"Girard", "girard"}, {"Moreau", "moreau"},
			{"Rousseau", "rousseau"}, {"D'Almeida", "dalmeida"}, {"Lemaître", "lemaitre"}, {"Bonnet", "bonnet"}, {"Leroy", "leroy"}},
	},
	cultPolish: {
		given: []name{{"Łukasz", "lukasz"}, {"Małgorzata", "malgorzata"}, {"Paweł", "pawel"}, {"Agnieszka", "agnieszka"}, {"Wojciech", "wojciech"},
			{"Zofia", "zofia"}, {"Michał", "michal"}, {"Joanna", "joanna"}, {"Grzegorz", "grzegorz"}, {"Katarzyna", "katarzyna"}},
		surnames: []name{{"Żółć", "zolc"}, {"Wiśniewski", "wisniewski"}, {"Kowalska", "kowalska"}, {"Wójcik", "wojcik"}, {"Kamiński", "kaminski"},
			{"Lewandowska", "lewandowska"}, {"Dąbrowski", "dabrowski"}, {"Szymańska", "szymanska"}, {"Nowak", "nowak"}, {"Krzyżanowski", "krzyzanowski"}},
	},
	cultNordic: {
		given: []name{{"Søren", "soren"}, {"Åsa", "asa"}, {"Bjørn", "bjorn"}, {"Ingrid", "ingrid"}, {"Mikkel", "mikkel"},
			{"Frida", "frida"}, {"Jørgen", "jorgen"}, {"Astrid", "astrid"}, {"Øystein", "oystein"}, {"Sigrún", "sigrun"}},
		surnames: []name{{"Jørgensen", "jorgensen"}, {"Ødegaard", "odegaard"}, {"Åberg", "aberg"}, {"Nielsen", "nielsen"}, {"Lindqvist", "lindqvist"},
			{"Kjær", "kjaer"}, {"Sørensen", "sorensen"}, {"Håkansson", "hakansson"}, {"Berg", "berg"}, {"Þórsdóttir", "thorsdottir"}},
	},
	cultChinese: {
		given: []name{{"芳", "fang"}, {"伟", "wei"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"},
			{"磊", "lei"}, {"洋", "yang"}, {"艳", "yan"}, {"勇", "yong"}, {"杰", "jie"}},
		surnames: []name{{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"},
			{"杨", "yang"}, {"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}},
		surnameFirst: true,
	},
	cultIndian: {
		given: []name{{"Aarav", "aarav"}, {"Priya", "priya"}, {"Rahul", "rahul"}, {"Ananya", "ananya"}, {"Vikram", "vikram"},
			{"Sneha", "sneha"}, {"Arjun", "arjun"}, {"Kavya", "kavya"}, {"Rohan", "rohan"}, {"Lakshmi", "lakshmi"}},
		surnames: []name{{"Sharma", "sharma"}, {"Patel", "patel"}, {"Iyer", "iyer"}, {"Reddy", "reddy"}, {"Gupta", "gupta"},
			{"Nair", "nair"}, {"Krishnamurthy", "krishnamurthy"}, {"Singh", "singh"}, {"Banerjee", "banerjee"}, {"Desai", "desai"}},
	},
	cultIrish: {
		given: []name{{"Siobhán", "siobhan"}, {"Seán", "sean"}, {"Aoife", "aoife"}, {"Pádraig", "padraig"}, {"Niamh", "niamh"},
			{"Ciarán", "ciaran"}, {"Róisín", "roisin"}, {"Eoin", "eoin"}, {"Saoirse", "saoirse"}, {"Declan", "declan"}},
		surnames: []name{{"O'Brien", "obrien"}, {"O'Connor", "oconnor"}, {"Murphy", "murphy"}, {"Ó Súilleabháin", "osuilleabhain"}, {"McCarthy", "mccarthy"},
			{"Kelly", "kelly"}, {"Ní Bhriain", "nibhriain"}, {"Byrne", "byrne"}, {"Mac Giolla", "macgiolla"}, {"Walsh", "walsh"}},
	},
	cultJapanese: {
		given: []name{{"Haruto", "haruto"}, {"Yūki", "yuki"}, {"Sakura", "sakura"}, {"Ren", "ren"}, {"Aoi", "aoi"},
			{"Sōta", "sota"}, {"Hina", "hina"}, {"Kenji", "kenji"}, {"Yōko", "yoko"}, {"Takumi", "takumi"}},
		surnames: []name{{"Satō", "sato"}, {"Suzuki", "suzuki"}, {"Takahashi", "takahashi"}, {"Tanaka", "tanaka"}, {"Itō", "ito"},
			{"Watanabe", "watanabe"}, {"Yamamoto", "yamamoto"}, {"Nakamura", "nakamura"}, {"Kobayashi", "kobayashi"}, {"Katō", "kato"}},
	},
	cultPortuguese: {
		given: []name{{"João", "joao"}, {"Conceição", "conceicao"}, {"Tomás", "tomas"}, {"Inês", "ines"}, {"Sebastião", "sebastiao"},
			{"Letícia", "leticia"}, {"Caio", "caio"}, {"Luíza", "luiza"}, {"Vinícius", "vinicius"}, {"Gonçalo", "goncalo"}},
		surnames: []name{{"Gonçalves", "goncalves"}, {"Araújo", "araujo"}, {"Magalhães", "magalhaes"}, {"Simões", "simoes"}, {"Conceição", "conceicao"},
			{"Silva", "silva"}, {"Santos", "santos"}, {"Brandão", "brandao"}, {"Pereira", "pereira"}, {"Assunção", "assuncao"}},
	},
}

// office is a site with its address data; users mostly carry the names of
// its culture.
type office struct {
	name, street, city, state, postalCode, country, usageLocation, language, phonePrefix string
	culture                                                                              int
	weight                                                                               int
}

var offices = []office{
	{"Seattle HQ", "1 Microsoft Way", "Redmond", "WA", "98052", "United States", "US", "en-US", "+1 425 555 ", cultEnglish, 24},
	{"New York", "11 Times Square", "New York", "NY", "10036", "United States", "US", "en-US", "+1 212 555 ", cultEnglish, 12},
	{"Dublin", "1 Grand Canal Quay", "Dublin", "", "D02 W447", "Ireland", "IE", "en-IE", "+353 1 555 ", cultIrish, 6},
	{"Madrid", "Paseo de la Castellana 259", "Madrid", "Madrid", "28046", "Spain", "ES", "es-ES", "+34 91 555 ", cultSpanish, 6},
	{"München", "Walter-Gropius-Straße 5", "München", "Bayern", "80807", "Germany", "DE", "de-DE", "+49 89 555 ", cultGerman, 8},
	{"Paris", "37 Quai du Président Roosevelt", "Issy-les-Moulineaux", "Île-de-France", "92130", "France", "FR", "fr-FR", "+33 1 555 ", cultFrench, 6},
	{"Warszawa", "ul. Chłodna 52", "Warszawa", "Mazowieckie", "00-872", "Poland", "PL", "pl-PL", "+48 22 555 ", cultPolish, 6},
	{"København", "Kanalvej 7", "Lyngby", "", "2800", "Denmark", "DK", "da-DK", "+45 45 555 ", cultNordic, 4},
	{"上海", "紫竹科学园区 5号楼", "上海", "上海", "200241", "China", "CN", "zh-CN", "+86 21 555 ", cultChinese, 8},
	{"Bengaluru", "Prestige Ferns Galaxy, Outer Ring Road", "Bengaluru", "Karnataka", "560103", "India", "IN", "en-IN", "+91 80 555 ", cultIndian, 10},
	{"東京", "港南 2-16-3", "東京", "東京都", "108-0075", "Japan", "JP", "ja-JP", "+81 3 555 ", cultJapanese, 5},
	{"São Paulo", "Av. Nações Unidas, 12901", "São Paulo", "SP", "04578-000", "Brazil", "BR", "pt-BR", "+55 11 555 ", cultPortuguese, 5},
}

// department is an organisational unit with the job titles found in it.
type department struct {
	name     string
	division int // index into divisions
	titles   []string
}

var departments = []department{
	{"Engineering", 0, []string{"Software Engineer", "Senior Software Engineer", "Principal Engineer", "Site Reliability Engineer", "QA Engineer"}},
	{"Research & Development", 0, []string{"Research Scientist", "Applied Scientist", "Data Scientist", "Lab Technician"}},
	{"Product Management", 0, []string{"Product Manager", "Senior Product Manager", "Product Designer", "UX Researcher"}},
	{"IT", 0, []string{"Systems Administrator", "IT Support Specialist", "Network Engineer", "Security Analyst"}},
	{"Sales", 1, []string{"Account Executive", "Sales Development Representative", "Solutions Engineer", "Account Manager"}},
	{"Marketing", 1, []string{"Marketing Specialist", "Content Strategist", "Brand Manager", "Growth Analyst"}},
	{"Customer Support", 1, []string{"Support Engineer", "Customer Success Manager", "Technical Account Manager", "Support Specialist"}},
	{"Finance", 2, []string{"Financial Analyst", "Accountant", "Controller", "Payroll Specialist"}},
	{"Human Resources", 2, []string{"HR Business Partner", "Recruiter", "People Operations Specialist", "Learning & Development Lead"}},
	{"Legal", 2, []string{"Corporate Counsel", "Paralegal", "Compliance Officer", "Privacy Counsel"}},
	{"Operations", 2, []string{"Operations Analyst", "Facilities Coordinator", "Program Manager", "Business Analyst"}},
	{"Procurement", 2, []string{"Buyer", "Procurement Specialist", "Vendor Manager", "Category Manager"}},
}

// divisions group departments; each becomes an "All ..." group nested in
// "All Staff".
var divisions = []string{"All Product & Engineering", "All Go-To-Market", "All Corporate Functions"}

// externalDomains are partner organisations guests come from.
var externalDomains = []string{"fabrikam.com", "adatum.com", "northwindtraders.com", "tailspintoys.com", "wingtiptoys.com", "litware.com"}

// projectNames name the ad-hoc groups of a large tenant.
var projectNames = []string{"Phoenix", "Atlas", "Nébula", "Kestrel", "Orion", "Zephyr", "Mjölnir", "Aurora", "Tundra", "Sirocco", "Ōkami", "Polaris"}
