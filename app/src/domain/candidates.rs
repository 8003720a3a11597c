//! The built-in demo dataset: synthetic candidate profiles to be turned into a structured JSON
//! evaluation, like the seed system's `synthetic_100.jsonl`, generated here from a seed.
//!
//! Each profile has a hidden "strength" computed from its school, employers, years, promotions
//! and role. The simulator recomputes it from the prompt text ([`strength_from_text`]), so its
//! simulated models can be more or less right, and quality can be measured without a GPU.

use super::dataset::{DatasetItem, CHAT_URL};
use super::rng::SplitMix64;
use serde_json::{json, Value};

pub const RECOMMENDATIONS: [&str; 5] = ["Strong Yes", "Yes", "Maybe", "No", "Strong No"];
pub const RATINGS: [&str; 5] = ["Exceptional", "Strong", "Good", "Average", "Weak"];

pub const SYSTEM_PROMPT: &str = "You are an expert technical recruiter evaluating software engineering candidates. Analyze the candidate's background and provide a structured assessment.";

/// (name, tier 0..=3) — tier 3 is the strongest signal.
const SCHOOLS: &[(&str, u8)] = &[
    ("Stanford University", 3),
    ("MIT", 3),
    ("Carnegie Mellon University", 3),
    ("UC Berkeley", 3),
    ("University of Illinois", 2),
    ("University of Washington", 2),
    ("Georgia Tech", 2),
    ("University of Michigan", 2),
    ("Arizona State University", 1),
    ("Institute of Technology", 1),
    ("Portland Community College", 0),
    ("an online coding bootcamp", 0),
];
const COMPANIES: &[(&str, u8)] = &[
    ("Google", 3),
    ("Microsoft", 3),
    ("Bloomberg", 3),
    ("Stripe", 3),
    ("DataFlow Systems", 2),
    ("CloudTech Inc", 2),
    ("FinanceApp", 2),
    ("TechCorp", 2),
    ("CodeCraft", 1),
    ("StartupXYZ", 1),
    ("Regional Bank IT", 0),
    ("Local Web Agency", 0),
];
/// (title, is a software engineering role)
const ROLES: &[(&str, bool)] = &[
    ("Software Engineer", true),
    ("Senior Software Engineer", true),
    ("Backend Engineer", true),
    ("Frontend Engineer", true),
    ("Staff Engineer", true),
    ("Data Engineer", true),
    ("QA Analyst", false),
    ("Product Manager", false),
    ("IT Support Specialist", false),
];
const FIRST: &[&str] = &[
    "Sarah", "Marcus", "Priya", "Min", "Diego", "Aisha", "Tom", "Elena", "Kenji", "Fatima", "Liam", "Zoe", "Omar", "Grace", "Ivan", "Chloe",
];
const LAST: &[&str] = &[
    "Chen", "Johnson", "Patel", "Thet", "Garcia", "Okafor", "Nguyen", "Kowalski", "Tanaka", "Haddad", "Murphy", "Rossi", "Silva", "Kim",
    "Novak", "Dubois",
];
const DEGREES: &[&str] = &[
    "BS Computer Science",
    "MEng Computer Science",
    "BS Mathematics",
    "BS Statistics",
    "BA Economics",
    "BS Electrical Engineering",
];
const SKILLS: &[&str] = &[
    "Python",
    "Go",
    "Rust",
    "Java",
    "TypeScript",
    "Kubernetes",
    "PostgreSQL",
    "Kafka",
    "AWS",
    "React",
    "Spark",
    "Terraform",
];

/// The answer shape the seed's report shows, as a JSON Schema.
pub fn answer_schema() -> Value {
    let rated = json!({
        "type": "object",
        "required": ["rating", "reasoning"],
        "properties": {
            "rating": {"type": "string", "enum": RATINGS},
            "reasoning": {"type": "string", "minLength": 1}
        }
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Candidate evaluation",
        "type": "object",
        "required": ["recommendation", "reasoning", "analysis"],
        "properties": {
            "recommendation": {"type": "string", "enum": RECOMMENDATIONS},
            "reasoning": {"type": "string", "minLength": 1},
            "analysis": {
                "type": "object",
                "required": ["educational_pedigree", "company_pedigree", "trajectory", "is_software_engineer"],
                "properties": {
                    "educational_pedigree": rated,
                    "company_pedigree": rated,
                    "trajectory": rated,
                    "is_software_engineer": {
                        "type": "object",
                        "required": ["value", "reasoning"],
                        "properties": {
                            "value": {"type": "boolean"},
                            "reasoning": {"type": "string"}
                        }
                    }
                }
            }
        }
    })
}

/// What the grader's rubric holds for this dataset: each field and its scale.
pub fn answer_rubric() -> Value {
    json!({
        "fields": [
            {"path": "recommendation", "label": "Recommendation", "scale": RECOMMENDATIONS, "ordered": true},
            {"path": "analysis.educational_pedigree.rating", "label": "Educational pedigree", "scale": RATINGS, "ordered": true},
            {"path": "analysis.company_pedigree.rating", "label": "Company pedigree", "scale": RATINGS, "ordered": true},
            {"path": "analysis.trajectory.rating", "label": "Trajectory", "scale": RATINGS, "ordered": true},
            {"path": "analysis.is_software_engineer.value", "label": "Is a software engineer", "scale": [true, false], "ordered": false}
        ]
    })
}

/// The hidden truth about a profile, recomputable from its text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strength {
    pub school_tier: u8,
    pub company_tier: u8,
    pub years: u32,
    pub promotions: u32,
    pub is_swe: bool,
}

impl Strength {
    /// A score in roughly 0..=10.
    pub fn score(&self) -> f64 {
        let base = f64::from(self.school_tier) * 0.9
            + f64::from(self.company_tier) * 1.3
            + f64::from(self.years.min(12)) / 4.0
            + f64::from(self.promotions.min(3)) * 0.6;
        if self.is_swe {
            base
        } else {
            base - 3.0
        }
    }
    /// Index into [`RECOMMENDATIONS`] (0 = Strong Yes).
    pub fn recommendation_index(&self) -> usize {
        match self.score() {
            s if s >= 8.0 => 0,
            s if s >= 6.2 => 1,
            s if s >= 4.4 => 2,
            s if s >= 2.5 => 3,
            _ => 4,
        }
    }
    /// Indexes into [`RATINGS`] (0 = Exceptional) for education, companies and trajectory.
    pub fn rating_indexes(&self) -> [usize; 3] {
        let tier = |t: u8| 3usize.saturating_sub(usize::from(t)).min(4);
        let trajectory = match (self.promotions, self.years) {
            (p, _) if p >= 3 => 0,
            (2, _) => 1,
            (1, y) if y >= 4 => 2,
            (1, _) => 3,
            _ => 4,
        };
        [tier(self.school_tier), tier(self.company_tier), trajectory]
    }
}

/// Recompute a profile's strength from its prompt text (any text: unknown names count as tier 0).
pub fn strength_from_text(text: &str) -> Strength {
    let school_tier = SCHOOLS.iter().filter(|(n, _)| text.contains(n)).map(|(_, t)| *t).max().unwrap_or(1);
    let company_tier = COMPANIES
        .iter()
        .filter(|(n, _)| text.contains(n))
        .map(|(_, t)| *t)
        .max()
        .unwrap_or(1);
    let years = text
        .split("**Years of Experience:**")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(3);
    let promotions = text.matches("promoted").count() as u32;
    let current_role = text
        .split("**Current Role:**")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or("");
    let is_swe = if current_role.is_empty() {
        text.contains("Engineer")
    } else {
        ROLES
            .iter()
            .find(|(r, _)| current_role.trim_start().starts_with(r))
            .map(|(_, swe)| *swe)
            .unwrap_or(current_role.contains("Engineer"))
    };
    Strength {
        school_tier,
        company_tier,
        years,
        promotions,
        is_swe,
    }
}

/// `n` demo items from `seed` (the same seed gives the same dataset).
pub fn demo_dataset(n: usize, seed: u64) -> Vec<DatasetItem> {
    let mut g = SplitMix64::new(seed);
    (0..n).map(|i| demo_item(i, &mut g)).collect()
}

fn demo_item(i: usize, g: &mut SplitMix64) -> DatasetItem {
    let name = format!("{} {}", g.pick(FIRST), g.pick(LAST));
    let (school, _) = *g.pick(SCHOOLS);
    let degree = *g.pick(DEGREES);
    let (role, _) = *g.pick(ROLES);
    let years = 1 + g.below(14) as u32;
    let jobs = (1 + years / 4).min(3) as usize;
    let mut companies: Vec<&str> = Vec::new();
    while companies.len() < jobs {
        let (c, _) = *g.pick(COMPANIES);
        if !companies.contains(&c) {
            companies.push(c);
        }
    }
    let end_year = 2025;
    let start = end_year - years as i32;
    let mut history = String::new();
    let span = (years as i32 / jobs as i32).max(1);
    for (k, company) in companies.iter().enumerate() {
        let from = end_year - span * (k as i32 + 1);
        let to = if k == 0 {
            "Present".to_string()
        } else {
            (end_year - span * k as i32).to_string()
        };
        let title = if k == 0 { role } else { "Software Engineer" };
        history.push_str(&format!("• {title} at {company} ({from}-{to})\n"));
        history.push_str(&format!(
            "  - Shipped {} with a team of {}\n",
            g.pick(&[
                "a billing service",
                "a search index",
                "an internal dashboard",
                "a data pipeline",
                "a mobile API"
            ]),
            2 + g.below(9)
        ));
        if g.chance(0.45) {
            history.push_str("  - Was promoted within two years\n");
        }
    }
    let mut skills: Vec<&str> = Vec::new();
    for _ in 0..5 {
        let s = *g.pick(SKILLS);
        if !skills.contains(&s) {
            skills.push(s);
        }
    }
    let user = format!(
        "**Candidate Profile**\n\n**Name:** {name}\n**Current Role:** {role} at {current}\n**Years of Experience:** {years} years\n\n**Work History:**\n{history}\n**Education:**\n• {degree}, {school} ({start})\n\n**Skills:** {skills}\n\nPlease evaluate this candidate. Answer with only a JSON object with these fields: \"recommendation\" (one of Strong Yes, Yes, Maybe, No, Strong No), \"reasoning\", and \"analysis\" with \"educational_pedigree\", \"company_pedigree\" and \"trajectory\" (each {{\"rating\": one of Exceptional, Strong, Good, Average, Weak, \"reasoning\"}}) and \"is_software_engineer\" ({{\"value\": true or false, \"reasoning\"}}).",
        current = companies[0],
        skills = skills.join(", "),
    );
    DatasetItem {
        custom_id: format!("candidate-{:04}", i + 1),
        url: CHAT_URL.to_string(),
        body: json!({
            "model": "any",
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user}
            ],
            "max_tokens": 1000,
            "temperature": 0.7
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_dataset() {
        assert_eq!(demo_dataset(20, 1), demo_dataset(20, 1));
        assert_ne!(demo_dataset(20, 1), demo_dataset(20, 2));
    }

    #[test]
    fn demo_items_have_unique_ids_and_chat_bodies() {
        let items = demo_dataset(300, 9);
        let ids: std::collections::HashSet<_> = items.iter().map(|i| &i.custom_id).collect();
        assert_eq!(ids.len(), 300);
        assert!(items.iter().all(|i| i.url == CHAT_URL && i.prompt_text().contains("**Name:**")));
    }

    #[test]
    fn strength_is_recovered_from_the_text() {
        let text = "**Current Role:** Staff Engineer at Google\n**Years of Experience:** 10 years\nWas promoted\nWas promoted\n• BS Computer Science, MIT (2015)";
        let s = strength_from_text(text);
        assert_eq!(
            (s.school_tier, s.company_tier, s.years, s.promotions, s.is_swe),
            (3, 3, 10, 2, true)
        );
        assert_eq!(s.recommendation_index(), 0);
        let weak = strength_from_text(
            "**Current Role:** IT Support Specialist at Local Web Agency\n**Years of Experience:** 1 years\n• Portland Community College",
        );
        assert!(!weak.is_swe);
        assert_eq!(weak.recommendation_index(), 4);
    }

    #[test]
    fn the_demo_spans_every_recommendation() {
        let items = demo_dataset(500, 42);
        let mut seen = [0usize; 5];
        for i in &items {
            seen[strength_from_text(&i.prompt_text()).recommendation_index()] += 1;
        }
        assert!(seen.iter().all(|&c| c > 0), "{seen:?}");
    }
}
