package match

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file generates labelled matching sets: an "ERP" side, a "CRM" side
// made of corrupted copies of ERP records plus look-alikes that are other
// companies, and the truth. Everything is drawn from a seeded PCG, so a seed
// always gives the same set.

// labelled is a matching set with its truth.
type labelled struct {
	erp, crm []Record
	truth    map[string]string // crm id -> erp id; absent: no counterpart
}

type country struct {
	name, code, cc string
	cities         []string
	legal          []string
	zip            func(r *rand.Rand) string
	street         func(r *rand.Rand, base string) string
}

func digitsN(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

var genCountries = []country{
	{name: "Germany", code: "DE", cc: "49", cities: []string{"Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf", "Leipzig", "Dresden", "Bremen", "Nürnberg", "Hannover"},
		legal: []string{"GmbH", "AG", "KG", "GmbH & Co. KG", "e.K."},
		zip:   func(r *rand.Rand) string { return digitsN(r, 5) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%s%s %d", base, pick(r, []string{"straße", "weg", "allee", "platz"}), 1+r.IntN(180))
		}},
	{name: "United Kingdom", code: "GB", cc: "44", cities: []string{"London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Liverpool", "Cowes", "Edinburgh"},
		legal: []string{"Ltd", "Limited", "PLC", "LLP"},
		zip: func(r *rand.Rand) string {
			return fmt.Sprintf("%c%c%d %d%c%c", 'A'+r.IntN(26), 'A'+r.IntN(26), 1+r.IntN(20), r.IntN(10), 'A'+r.IntN(26), 'A'+r.IntN(26))
		},
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%d %s %s", 1+r.IntN(300), base, pick(r, []string{"Street", "Road", "Lane", "Square", "Gardens"}))
		}},
	{name: "USA", code: "US", cc: "1", cities: []string{"New York", "Chicago", "Seattle", "Portland", "Boston", "Denver", "Austin", "San Francisco", "Boise", "Albuquerque"},
		legal: []string{"Inc.", "LLC", "Corp.", "Co."},
		zip:   func(r *rand.Rand) string { return digitsN(r, 5) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%d %s %s", 1+r.IntN(9000), base, pick(r, []string{"Street", "Avenue", "Blvd.", "Road", "Drive"}))
		}},
	{name: "France", code: "FR", cc: "33", cities: []string{"Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Strasbourg", "Reims"},
		legal: []string{"SARL", "S.A.", "SAS"},
		zip:   func(r *rand.Rand) string { return digitsN(r, 5) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%d, %s %s", 1+r.IntN(150), pick(r, []string{"rue de", "place", "boulevard", "avenue"}), base)
		}},
	{name: "Spain", code: "ES", cc: "34", cities: []string{"Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", "Málaga"},
		legal: []string{"S.A.", "S.L."},
		zip:   func(r *rand.Rand) string { return digitsN(r, 5) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%s %s, %d", pick(r, []string{"Calle", "Avda.", "Plaza"}), base, 1+r.IntN(120))
		}},
	{name: "Italy", code: "IT", cc: "39", cities: []string{"Roma", "Milano", "Torino", "Napoli", "Bergamo", "Reggio Emilia", "Firenze"},
		legal: []string{"S.p.A.", "S.r.l."},
		zip:   func(r *rand.Rand) string { return digitsN(r, 5) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("Via %s %d", base, 1+r.IntN(200))
		}},
	{name: "Sweden", code: "SE", cc: "46", cities: []string{"Stockholm", "Göteborg", "Malmö", "Luleå", "Uppsala", "Bräcke"},
		legal: []string{"AB", "HB"},
		zip:   func(r *rand.Rand) string { return digitsN(r, 3) + " " + digitsN(r, 2) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%sgatan %d", base, 1+r.IntN(90))
		}},
	{name: "Denmark", code: "DK", cc: "45", cities: []string{"København", "Århus", "Odense", "Aalborg"},
		legal: []string{"A/S", "ApS"},
		zip:   func(r *rand.Rand) string { return digitsN(r, 4) },
		street: func(r *rand.Rand, base string) string {
			return fmt.Sprintf("%svej %d", base, 1+r.IntN(90))
		}},
}

var (
	genSurnames = strings.Fields(`Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder
Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Werner Krause Lehmann Köhler Maier Smith Jones Williams Taylor Brown
Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel
Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis
Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan
Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell
Dubois Lefebvre Moreau Laurent Simon Michel Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau
García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Jiménez Ruiz Hernández Díaz Moreno Álvarez Muñoz Romero
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti DeLuca Mancini Costa Giordano Rizzo Lombardi
Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson Jonsson Jansen Nielsen Hansen
Pedersen Andersen Christensen Larsen Sørensen Rasmussen Jørgensen Petersen Madsen Kristensen Olsen Thomsen Poulsen Johansen Knudsen`)
	genAdjectives = strings.Fields(`Golden Blue Green Silver Royal Northern Southern Eastern Western Grand Little Big Old New Red White Black
Happy Sunny Bright Rapid Swift Noble Prime Alpine Coastal Urban Rural Quality Premier Central Pacific Atlantic Nordic Crystal Iron
Oak Maple Cedar Pine Sterling`)
	genNouns = strings.Fields(`Harbor Mountain River Valley Bridge Castle Garden Meadow Forest Lake Island Bay Star Sun Moon Lion Eagle
Falcon Bear Wolf Fox Anchor Crown Tower Gate Mill Field Stone Rock Ridge Summit Horizon Compass Arrow Beacon Lantern Harvest Orchard
Vine Spring Brook Hill Coast Delta Prairie Canyon Glacier Pioneer Frontier Heritage`)
	genBusiness = strings.Fields(`Feinkost Delikatessen Foods Trading Imports Exports Logistics Catering Bakery Bäckerei Brewing Brauerei
Wines Vinos Weinhandel Market Markt Grocers Supplies Distribution Handel Vertrieb Kaffeehaus Café Restaurant Bistro Diner Deli
Provisions Pantry Kitchen Küche Butchery Metzgerei Fisheries Dairy Molkerei Produce Farms Gardens Spices Gewürze Teahouse Confectionery
Chocolates Pasticceria Alimentari Salumeria Épicerie Boulangerie Fromagerie Comestibles Ultramarinos Supermercado Livs Handelshus
Engineering Consulting Software Systems Electronics Motors Tools Textiles Furniture Printing Packaging Plastics Metals Chemicals`)
	genStreetBases = strings.Fields(`Haupt Bahnhof Schiller Goethe Linden Kirch Garten Berg Wald Mühlen Park Rosen Birken Eichen Buchen
Friedrich Wilhelm Kaiser König High Station Church Victoria Mill Park Queen King George Bridge Albert Manor Chapel Grove Oak Elm
Maple Cedar Washington Lincoln Jefferson Madison Franklin Main Market Lake Hill Sunset Oakwood Riverside Pasteur Hugo Voltaire
Colbert Lafayette Mayor Alcalá Gran Serrano Goya Roma Garibaldi Mazzini Cavour Dante Verdi Kungs Drottning Storgatan Sveavägen
Norre Vester Oster Sonder Strand Havne`)
)

// genCompany returns a synthetic company.
func genCompany(r *rand.Rand, id string) Record {
	c := pick(r, genCountries)
	var name string
	switch r.IntN(6) {
	case 0, 1:
		name = pick(r, genSurnames) + " " + pick(r, genBusiness)
	case 2:
		name = pick(r, genSurnames) + " & " + pick(r, genSurnames)
	case 3:
		name = pick(r, genAdjectives) + " " + pick(r, genNouns) + " " + pick(r, genBusiness)
	case 4:
		name = pick(r, genBusiness) + " " + pick(r, genSurnames)
	default:
		name = pick(r, genNouns) + " " + pick(r, genBusiness)
	}
	if r.IntN(3) == 0 {
		name += " " + pick(r, c.legal)
	}
	return companyIn(r, id, name, c)
}

// companyIn gives the named company an address and phone in c.
func companyIn(r *rand.Rand, id, name string, c country) Record {
	area := digitsN(r, 1+r.IntN(3))
	local := digitsN(r, 6+r.IntN(2))
	rec := acct(id, "name", name, "street", c.street(r, pick(r, genStreetBases)), "city", pick(r, c.cities),
		"zip", c.zip(r), "country", c.name, "phone", "+"+c.cc+" "+strings.TrimLeft(area, "0")+"9 "+local)
	return rec
}

func countryOf(name string) country {
	for _, c := range genCountries {
		if c.name == name {
			return c
		}
	}
	return country{name: name, cc: otherCC[name], code: countryCode(name)}
}

// otherCC are the calling codes of Northwind's other countries.
var otherCC = map[string]string{
	"Mexico": "52", "Argentina": "54", "Austria": "43", "Belgium": "32", "Brazil": "55", "Canada": "1", "Finland": "358",
	"Ireland": "353", "Norway": "47", "Poland": "48", "Portugal": "351", "Switzerland": "41", "Venezuela": "58", "UK": "44",
}

// typo changes one letter of a word of s longer than four letters: a
// deletion, a doubled letter, a swap or a neighbour key.
func typo(r *rand.Rand, s string) string {
	ws := strings.Fields(s)
	var long []int
	for i, w := range ws {
		if utf8.RuneCountInString(w) > 4 {
			long = append(long, i)
		}
	}
	if len(long) == 0 {
		return s
	}
	i := pick(r, long)
	w := []rune(ws[i])
	p := 1 + r.IntN(len(w)-2)
	switch r.IntN(4) {
	case 0:
		w = append(w[:p:p], w[p+1:]...)
	case 1:
		w = append(w[:p+1:p+1], w[p:]...)
	case 2:
		w[p], w[p+1] = w[p+1], w[p]
	default:
		w[p] = rune("qwertyuiopasdfghjklzxcvbnm"[r.IntN(26)])
	}
	ws[i] = string(w)
	return strings.Join(ws, " ")
}

var stripper = strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "Ä", "A", "Ö", "O", "Ü", "U", "ß", "ss", "é", "e", "è", "e", "ê", "e",
	"á", "a", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "å", "a", "Å", "A", "ø", "o", "Ø", "O", "æ", "ae", "ç", "c", "É", "E", "Á", "A")

var abbrevs = [][2]string{
	{" & ", " and "}, {" and ", " & "}, {"straße", "str."}, {"Straße", "Str."}, {"Str.", "Straße"}, {" Street", " St."},
	{" Road", " Rd."}, {" Avenue", " Ave"}, {"Avda.", "Avenida"}, {"Avenida", "Avda."}, {"Blvd.", "Boulevard"}, {"Limited", "Ltd"},
	{"Ltd", "Limited"}, {"Inc.", "Incorporated"}, {"International", "Intl."}, {"Company", "Co."}, {"Calle", "C/"},
	{"Corp.", "Corporation"},
}

// corrupt returns a copy of rec as a person would have typed it into
// another system: a few of typos, abbreviations, legal forms, word order,
// case, stripped accents, missing fields and other phone and country
// formats.
func corrupt(r *rand.Rand, rec Record, id string) Record {
	f := map[string]string{}
	for k, v := range rec.Fields {
		f[k] = v
	}
	c := countryOf(f["country"])
	n := 1 + r.IntN(3)
	for range n {
		switch r.IntN(12) {
		case 0:
			f["name"] = typo(r, f["name"])
		case 1:
			f["name"] = parseName(f["name"]).joined // legal form dropped, lower-cased
			if r.IntN(2) == 0 {
				f["name"] = strings.ToUpper(f["name"])
			}
		case 2:
			if legal := parseName(f["name"]).legal; legal == "" {
				f["name"] += " " + pick(r, append([]string{"Ltd", "GmbH", "S.A.", "Inc."}, c.legal...))
			}
		case 3:
			for k, v := range f {
				for _, ab := range abbrevs {
					if strings.Contains(v, ab[0]) {
						f[k] = strings.Replace(v, ab[0], ab[1], 1)
						break
					}
				}
			}
		case 4:
			f["name"] = reorder(f["name"])
		case 5:
			for k, v := range f {
				f[k] = stripper.Replace(v)
			}
		case 6:
			delete(f, pick(r, []string{"street", "zip", "phone", "city"}))
		case 7:
			f["phone"] = reformatPhone(r, rec.Fields["phone"], c)
		case 8:
			f["country"] = pick(r, []string{c.code, strings.ToUpper(c.name), c.name})
		case 9:
			k := pick(r, []string{"street", "city"})
			f[k] = typo(r, f[k])
		case 10:
			f["zip"] = strings.ReplaceAll(f["zip"], " ", "")
			f["phone"] = reformatPhone(r, rec.Fields["phone"], c)
		default:
			f["name"] = strings.ToLower(f["name"])
		}
	}
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	return Record{ID: id, Fields: f}
}

// reformatPhone writes p the way another system would: national with a
// trunk 0, 00 for +, digits only, dashes.
func reformatPhone(r *rand.Rand, p string, c country) string {
	if p == "" {
		return p
	}
	if c.cc == "" {
		return digits(p)
	}
	d := digits(p)
	national := d
	if strings.HasPrefix(p, "+") && strings.HasPrefix(d, c.cc) {
		national = d[len(c.cc):]
	}
	switch r.IntN(4) {
	case 0:
		return "0" + national[:min(3, len(national))] + " " + national[min(3, len(national)):]
	case 1:
		return "00" + c.cc + " " + national
	case 2:
		return "(" + national[:min(3, len(national))] + ") " + national[min(3, len(national)):]
	}
	return "+" + c.cc + "-" + national
}

// lookAlike returns another company whose name looks like rec's: the same
// name, a typo of it, or one word changed; in another city (half the time
// another country; a quarter of the time the same city) with its own
// street, postcode and phone.
func lookAlike(r *rand.Rand, rec Record, id string) Record {
	name := rec.Fields["name"]
	switch r.IntN(3) {
	case 0:
		name = typo(r, name)
	case 1:
		ws := strings.Fields(name)
		i := r.IntN(len(ws))
		ws[i] = pick(r, append(append([]string{}, genBusiness...), genSurnames...))
		name = strings.Join(ws, " ")
	}
	c := countryOf(rec.Fields["country"])
	if r.IntN(2) == 0 || c.zip == nil {
		c = pick(r, genCountries)
	}
	out := companyIn(r, id, name, c)
	if r.IntN(4) == 0 {
		// Another company of that name in the same town.
		out.Fields["city"], out.Fields["country"] = rec.Fields["city"], rec.Fields["country"]
	}
	return out
}

// reorder changes the order of a name's words as people do: "Morgan &
// Hughes" becomes "Hughes & Morgan", "Fox Systems" "Systems Fox"; a legal
// form stays at the end.
func reorder(name string) string {
	ws := strings.Fields(name)
	end := len(ws)
	for end > 1 {
		if _, ok := legalForms[Normalise(ws[end-1])]; !ok && (ws[end-1] != "&" || end == len(ws)) {
			break
		}
		end--
	}
	core, legal := ws[:end], ws[end:]
	if len(core) < 2 {
		return name
	}
	var out []string
	if i := slices.IndexFunc(core, func(w string) bool { return w == "&" || strings.EqualFold(w, "and") }); i > 0 && i < len(core)-1 {
		out = append(append(append(out, core[i+1:]...), core[i]), core[:i]...)
	} else {
		out = append(append(out, core[1:]...), core[0])
	}
	return strings.Join(append(out, legal...), " ")
}
