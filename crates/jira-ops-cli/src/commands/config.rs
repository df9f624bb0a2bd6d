//! `jira-ops config init | show | check`.

use std::io::Write;

use jira_client::Transport;
use jira_model::{ApiRequest, User};
use serde_json::json;

use crate::cli::{ConfigCommand, Global};
use crate::config::{self, CacheUse, Loaded, token_variable};
use crate::error::{AUTH_HINT, CliError, CliResult, Code};
use crate::output;

pub async fn run(global: &Global, command: ConfigCommand) -> CliResult {
    match command {
        ConfigCommand::Init => init(global),
        ConfigCommand::Show { format } => {
            let json = format.json();
            let settings = super::settings(global)?;
            show(&settings, json)?;
            Ok(Code::Ok)
        }
        ConfigCommand::Check { offline } => check(global, offline).await,
    }
}

fn init(global: &Global) -> CliResult {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| config::default_path(&env));
    let profile = global
        .profile
        .clone()
        .or_else(|| env("JIRA_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CliError::usage(format!(
            "profile name {profile:?} is invalid: use letters, digits, - and _ (e.g. work)"
        )));
    }
    let existing = config::read_file(&path)?;
    // What the environment already says is written in, not the placeholders.
    let site = global.site.clone().or_else(|| env("JIRA_SITE_URL"));
    // A site no request could reach is refused before anything is written.
    if let Some(site) = &site
        && let Err(error) = jira_client::check_base_url(site, false)
    {
        // The check's own words say why (credentials masked); the flag and the fix first.
        let shown = jira_model::redact_url(site);
        return Err(CliError::usage(format!(
            "--site {shown:?} is not a site jira-ops can use: write https://your-domain.atlassian.net (http:// only to this machine, e.g. a simulator); nothing was written ({error})"
        )));
    }
    let email = global.email.clone().or_else(|| env("JIRA_EMAIL"));
    let template = config::profile_template(&profile, site.as_deref(), email.as_deref());
    match existing {
        Some((_, file)) if file.profiles.contains_key(&profile) => {
            return Err(CliError::usage(format!(
                "profile {profile:?} is already in {}; edit it there (nothing was changed)",
                path.display()
            )));
        }
        Some(_) => {
            let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
            file.write_all(template.as_bytes())?;
        }
        None => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::failure(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let text = format!(
                "# jira-ops configuration: profiles of Jira Cloud sites.\n# Precedence: flags > environment > this file > defaults (`jira-ops config show`).\ndefault_profile = \"{profile}\"\n{template}"
            );
            write_private(&path, &text)?;
        }
    }
    crate::output::outln!(
        "wrote profile {profile:?} to {}\nnext: set {} (or JIRA_API_TOKEN), then run `jira-ops config check`",
        path.display(),
        token_variable(&profile)
    );
    Ok(Code::Ok)
}

/// Creates `path` readable by its owner only: it may come to hold a token.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn show(settings: &Loaded, json: bool) -> Result<(), CliError> {
    let rows = settings.rows();
    if json {
        let mut values = serde_json::Map::new();
        for (name, value, source) in &rows {
            // Typed as the setting is (numbers as numbers); the rest as shown.
            let typed = match settings.settings.get_json(name) {
                Some(serde_json::Value::String(_)) | None => json!(value),
                Some(typed) => typed,
            };
            values.insert(name.clone(), json!({"value": typed, "source": source}));
        }
        crate::output::outln!(
            "{}",
            json!({
                "config_file": settings.config_path.display().to_string(),
                "config_file_exists": settings.config_exists,
                "settings": values,
            })
        );
        return Ok(());
    }
    let mut table = output::table(&["setting", "value", "source"]);
    for (name, value, source) in rows {
        table.add_row(vec![name, value, source]);
    }
    let exists = if settings.config_exists {
        ""
    } else {
        " (does not exist: `jira-ops config init` writes one)"
    };
    crate::output::outln!(
        "config file: {}{exists}\n{table}",
        settings.config_path.display()
    );
    Ok(())
}

async fn check(global: &Global, offline: bool) -> CliResult {
    let mut settings = super::settings(global)?;
    let site = settings.require_site()?;
    // The check needs no cache; building the client validates everything else offline.
    settings.settings.cache_store = "none".into();
    if site.trim_end_matches('/') == config::PLACEHOLDER_SITE {
        return Err(CliError::usage(format!(
            "site_url is still the placeholder {} (from {}): write your site there, set JIRA_SITE_URL, or pass --site",
            config::PLACEHOLDER_SITE,
            settings.config_path.display()
        )));
    }
    let client = settings.client(CacheUse::Never).await?;
    let source = if settings.config_exists {
        settings.config_path.display().to_string()
    } else {
        format!(
            "no config file at {}: flags and the environment",
            settings.config_path.display()
        )
    };
    crate::output::outln!(
        "config OK: profile {:?}, site {site} ({source})",
        settings.profile.value
    );
    if offline {
        return Ok(Code::Ok);
    }
    let response = client.wire().send(ApiRequest::myself()).await?;
    match response.status.as_u16() {
        200 => {
            // A 200 that is not Jira's user (a proxy's or a portal's page) proves nothing.
            let Ok(user) = response.json::<User>() else {
                return Err(CliError::failure(format!(
                    "GET /myself answered HTTP 200 but not with a Jira user ({}): is {site} a Jira Cloud site, and nothing in between answering for it?",
                    response.body_description()
                )));
            };
            let name = user
                .display_name
                .or(user.email_address)
                .unwrap_or_else(|| "an unnamed user".into());
            crate::output::outln!("credentials OK: signed in as {name}");
            Ok(Code::Ok)
        }
        status @ (401 | 403) => Err(CliError::auth(
            AUTH_HINT.replace("{status}", &status.to_string()),
        )),
        status => Err(CliError::failure(format!(
            "GET /myself answered HTTP {status}; the site may be down (try `jira-ops health`)"
        ))),
    }
}
