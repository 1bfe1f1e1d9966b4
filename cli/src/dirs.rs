//! `--dir HOST[::GUEST]` specifications, and the guest environment `run` builds: the host's
//! (with `--inherit-env`), then `--env`, and a `PWD` that follows the host's working directory
//! into the preopens, because Go's `os.Getwd` and its relative paths on wasip1 come from `PWD`.

use std::path::{Component, Path, PathBuf};

/// One `--dir` / `--dir-ro` argument.
#[derive(Debug, Clone)]
pub struct DirSpec {
    /// The host directory.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
}

impl DirSpec {
    /// Parses wasmtime's syntax: `HOST` (seen at the same path) or `HOST::GUEST`.
    pub fn parse(s: &str) -> Result<DirSpec, String> {
        let (host, guest) = s.split_once("::").unwrap_or((s, s));
        if host.is_empty() || guest.is_empty() {
            return Err(format!("`{s}`: expected HOST or HOST::GUEST"));
        }
        Ok(DirSpec {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// The guest's environment: the host's if `inherit`, then `explicit` (a later value for the same
/// key replaces an earlier one in place: Go's `os.Getenv` would see only the first), and `PWD`
/// unless given explicitly: the host's working directory as the guest sees it through `dirs`,
/// or none (Go then starts in the first preopen's guest path).
pub fn guest_env<'a>(inherit: bool, explicit: Vec<(String, String)>, dirs: impl IntoIterator<Item = &'a DirSpec>) -> Vec<(String, String)> {
    fn set(env: &mut Vec<(String, String)>, key: String, value: String) {
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => env.push((key, value)),
        }
    }
    let mut env: Vec<(String, String)> = Vec::new();
    let explicit_pwd = explicit.iter().any(|(k, _)| k == "PWD");
    if inherit {
        for (key, value) in std::env::vars_os() {
            match (key.into_string(), value.into_string()) {
                // The host's PWD is a host path: the guest gets the mapped one below.
                (Ok(key), Ok(_)) if key == "PWD" => {}
                (Ok(key), Ok(value)) => set(&mut env, key, value),
                (key, _) => tracing::warn!(?key, "not passing a non-UTF-8 environment variable to the guest"),
            }
        }
    }
    for (key, value) in explicit {
        set(&mut env, key, value);
    }
    if !explicit_pwd && let Some(pwd) = std::env::current_dir().ok().and_then(|cwd| guest_cwd(&cwd, dirs)) {
        set(&mut env, "PWD".into(), pwd);
    }
    env
}

/// The guest path of host directory `cwd`, through the preopen (with an absolute guest path)
/// that contains it most closely.
fn guest_cwd<'a>(cwd: &Path, dirs: impl IntoIterator<Item = &'a DirSpec>) -> Option<String> {
    let cwd = cwd.canonicalize().ok()?;
    dirs.into_iter()
        .filter(|d| d.guest.starts_with('/'))
        .filter_map(|d| {
            let host = d.host.canonicalize().ok()?;
            let rest = cwd.strip_prefix(&host).ok()?;
            Some((host.components().count(), d, rest.to_path_buf()))
        })
        .max_by_key(|(depth, _, _)| *depth)
        .and_then(|(_, d, rest)| {
            let mut guest = d.guest.trim_end_matches('/').to_string();
            for part in rest.components() {
                match part {
                    Component::Normal(p) => {
                        guest.push('/');
                        guest.push_str(p.to_str()?);
                    }
                    _ => return None,
                }
            }
            Some(if guest.is_empty() { "/".into() } else { guest })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_syntax() {
        let d = DirSpec::parse("/tmp/x::/data").unwrap();
        assert_eq!((d.host.as_path(), d.guest.as_str()), (Path::new("/tmp/x"), "/data"));
        let d = DirSpec::parse("/tmp/x").unwrap();
        assert_eq!((d.host.as_path(), d.guest.as_str()), (Path::new("/tmp/x"), "/tmp/x"));
        assert!(DirSpec::parse("::/data").is_err());
        assert!(DirSpec::parse("/tmp::").is_err());
    }

    #[test]
    fn cwd_maps_through_the_closest_preopen() {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let sub = tmp.join(format!("go-reactor-dirs-{}", std::process::id()));
        std::fs::create_dir_all(sub.join("a/b")).unwrap();
        let dirs = [
            DirSpec::parse("/").unwrap(),
            DirSpec::parse(&format!("{}::/work", sub.display())).unwrap(),
            DirSpec::parse(&format!("{}::rel", sub.join("a").display())).unwrap(),
        ];
        assert_eq!(guest_cwd(&sub.join("a/b"), &dirs).as_deref(), Some("/work/a/b"));
        assert_eq!(guest_cwd(&sub, &dirs).as_deref(), Some("/work"));
        assert_eq!(guest_cwd(&tmp, &dirs), Some(tmp.to_string_lossy().into_owned()));
        assert_eq!(guest_cwd(&tmp, &dirs[1..]), None);
        assert_eq!(guest_cwd(Path::new("/"), &dirs[..1]).as_deref(), Some("/"));
        std::fs::remove_dir_all(&sub).ok();
    }

    #[test]
    fn explicit_env_replaces_inherited_and_pwd_is_kept() {
        let env = guest_env(
            false,
            vec![("A".into(), "1".into()), ("A".into(), "2".into()), ("PWD".into(), "/x".into())],
            &[DirSpec::parse("/").unwrap()],
        );
        assert_eq!(env, vec![("A".to_string(), "2".to_string()), ("PWD".to_string(), "/x".to_string())]);
    }
}
