package fake

// The vocabulary of the generic CRMs (demo, sftest): what their generators
// draw names, addresses and text from. A fake whose provider has data of
// its own style (hstest) keeps its own lists.
var (
	CompanyStems    = []string{"Acme", "Northwind", "Bluefin", "Copperleaf", "Granite", "Helios", "Juniper", "Keystone", "Lumen", "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quarry", "Redwood", "Summit", "Tidewater", "Vantage", "Willow", "Zephyr"}
	CompanySuffixes = []string{"Logistics", "Analytics", "Foods", "Labs", "Systems", "Partners", "Health", "Energy", "Robotics", "Media", "Capital", "Outfitters"}
	FirstNames      = []string{"Ada", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kira", "Luca", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq"}
	LastNames       = []string{"Anders", "Brooks", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber"}
	MailDomains     = []string{"example.com", "example.org", "example.net"}
	DealKinds       = []string{"New Business", "Renewal", "Expansion", "Pilot", "Upsell"}
	TaskVerbs       = []string{"Call", "Email", "Send proposal to", "Follow up with", "Book demo for", "Review contract with"}
	NoteTitles      = []string{"Call summary", "Meeting notes", "Pricing discussion", "Onboarding", "Escalation", "Quarterly review"}
	NoteSentences   = []string{
		"Customer asked for a revised quote.",
		"Budget approved for next quarter.",
		"Needs SSO before rollout.",
		"Champion is moving to a new team.",
		"Legal review is in progress.",
		"Asked for a reference customer in the same industry.",
		"Renewal risk: usage dropped last month.",
		"Agreed on a two-week pilot.",
	}
)

// Company is a company name: a stem and a suffix.
func (g *Gen) Company() string { return g.Pick(CompanyStems) + " " + g.Pick(CompanySuffixes) }
