//! Static bearer tokens, in the format of kube-apiserver's `--token-auth-file`: one CSV
//! line per token, `token,user,uid[,"group1,group2"]`. The server keeps the admin's token
//! there (DIR/tokens.csv), made on first start.

use std::collections::HashMap;
use std::path::Path;

use super::UserInfo;
use super::user::MASTERS_GROUP;

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read or write the token file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("line {line} of the token file {path} is not token,user,uid[,\"groups\"]")]
    Malformed { path: String, line: usize },
}

/// The admin's user name, in the token file and the admin kubeconfig's certificate.
pub const ADMIN_USER: &str = "admin";

#[derive(Clone, Debug, Default)]
pub struct StaticTokens {
    users: HashMap<String, UserInfo>,
}

/// Splits one CSV line into fields, with double quotes around fields that hold commas.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' if quoted && characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

impl StaticTokens {
    pub fn parse(text: &str, path: &str) -> Result<Self, TokenFileError> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || TokenFileError::Malformed {
                path: path.to_owned(),
                line: index + 1,
            };
            let fields = csv_fields(line).ok_or_else(malformed)?;
            let (token, user, uid) = match fields.as_slice() {
                [token, user, uid, ..] if !token.is_empty() && !user.is_empty() => {
                    (token, user, uid)
                }
                _ => return Err(malformed()),
            };
            let groups: Vec<&str> = fields
                .get(3)
                .map(|groups| {
                    groups
                        .split(',')
                        .filter(|group| !group.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mut info = UserInfo::authenticated(user.clone(), &groups);
            info.uid = uid.clone();
            users.insert(token.clone(), info);
        }
        Ok(Self { users })
    }

    /// Loads the token file, making it with a new admin token when there is none.
    pub fn load_or_create(path: &Path) -> Result<(Self, String), TokenFileError> {
        let display = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let token =
                    wasmkube_pki::join_token::random_token_characters(32).map_err(|error| {
                        TokenFileError::File {
                            path: display.clone(),
                            reason: error.to_string(),
                        }
                    })?;
                let text = format!("{token},{ADMIN_USER},{ADMIN_USER},\"{MASTERS_GROUP}\"\n");
                wasmkube_pki::authority::write_file_atomically(path, &text, true).map_err(
                    |error| TokenFileError::File {
                        path: display.clone(),
                        reason: error.to_string(),
                    },
                )?;
                text
            }
            Err(error) => {
                return Err(TokenFileError::File {
                    path: display,
                    reason: error.to_string(),
                });
            }
        };
        let tokens = Self::parse(&text, &display)?;
        let admin_token = tokens
            .users
            .iter()
            .find(|(_, user)| user.username == ADMIN_USER)
            .map(|(token, _)| token.clone())
            .unwrap_or_default();
        Ok((tokens, admin_token))
    }

    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.users.get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_kube_apiserver_reads_them() {
        let tokens = StaticTokens::parse(
            "# comment\nt1,alice,42,\"dev,ops\"\nt2,bob,7\n",
            "tokens.csv",
        )
        .expect("a valid file");
        let alice = tokens.authenticate("t1").expect("alice");
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.uid, "42");
        assert_eq!(alice.groups, ["dev", "ops", "system:authenticated"]);
        assert_eq!(
            tokens.authenticate("t2").expect("bob").groups,
            ["system:authenticated"]
        );
        assert!(tokens.authenticate("t3").is_none());
    }

    #[test]
    fn a_malformed_line_is_named() {
        let error = StaticTokens::parse("t1,alice,1\nonlytoken\n", "f.csv").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "line 2 of the token file f.csv is not token,user,uid[,\"groups\"]"
        );
    }
}
