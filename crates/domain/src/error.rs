//! Validation errors: each names the component (when there is one) and the field.

use std::fmt;

/// One problem found in a DSL or runtime conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The component concerned, when the problem belongs to one.
    pub component: Option<String>,
    /// The field, as a dotted path (`input.data.train_data`, `role.host`, ...).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ValidationError {
    /// A problem of a component's field.
    pub fn component(
        component: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            component: Some(component.into()),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A problem of a job-level field.
    pub fn job(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            component: None,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.component {
            Some(c) => write!(
                f,
                "component `{c}`, field `{}`: {}",
                self.field, self.message
            ),
            None => write!(f, "field `{}`: {}", self.field, self.message),
        }
    }
}

/// Every problem found, in the order found. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Errors(pub Vec<ValidationError>);

impl Errors {
    /// The problems.
    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an `Errors` holds at least one problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} error{} in the job:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

/// A collector that keeps going after the first problem.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) errors: Vec<ValidationError>,
    pub(crate) warnings: Vec<String>,
}

impl Report {
    pub(crate) fn push(&mut self, e: ValidationError) {
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    pub(crate) fn cpn(&mut self, cpn: &str, field: impl Into<String>, msg: impl Into<String>) {
        self.push(ValidationError::component(cpn, field, msg));
    }

    pub(crate) fn job(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.push(ValidationError::job(field, msg));
    }
}
