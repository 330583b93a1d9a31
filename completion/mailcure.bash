# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	mailcure.bash - bash completion of mailcure(1)
# SYNOPSIS
#	. completion/mailcure.bash	(installed as
#	/usr/share/bash-completion/completions/mailcure)
# DESCRIPTION
#	Completes commands, subcommands, global and per-command options,
#	store prefixes (maildir: mbox: eml: dovecot:) after -s, files and
#	directories where an option takes FILE, DIR or PATH, run ids
#	(report, respond --resume, --run, --run-id) from STATE/runs and
#	the quarantine's runs/, and quarantine ids (quarantine show and
#	restore) from QUARANTINE/entries.
#
#	Nothing is listed twice: the commands, the options, which of them
#	take a value (and of what kind: FILE, DIR, STORE, RUN, ...), the
#	subcommands and the default directories are read from what the
#	mailcure being completed prints for --help and COMMAND --help,
#	kept for the shell session. The state and quarantine directories
#	are those of --state-dir and --quarantine on the line, else of the
#	settings file (--config, else the default --help names), else the
#	defaults.
#
#	Words are taken from the line itself rather than COMP_WORDS, so
#	that "maildir:/var/mail" and "--run=ID" are one word whatever
#	COMP_WORDBREAKS holds; what is offered is trimmed back to what
#	readline replaces.
# SECURITY
#	Only reads: mailcure --help, the settings file and directory
#	listings; a directory that cannot be read completes nothing.

# _mailcure_help BIN [COMMAND]: its --help text in _mailcure_text, kept
# per BIN and COMMAND (call it outside $(...), or nothing is kept).
declare -gA _mailcure_help_cache
_mailcure_help() {
	local key="$1|${2:-}"
	if [[ -z ${_mailcure_help_cache[$key]+set} ]]; then
		_mailcure_help_cache[$key]=$("$1" ${2:+"$2"} --help 2>/dev/null)
	fi
	_mailcure_text=${_mailcure_help_cache[$key]}
}

# _mailcure_options TEXT: "OPTION METAVAR" lines (METAVAR "-" for none)
# of the option lines of a --help text.
_mailcure_options() {
	local re='^ +(-[a-zA-Z], )?(--[a-z][a-z-]*)( ([A-Z][A-Z_]*|\[[A-Z]+\]))?( |$)'
	local line
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		local meta=${BASH_REMATCH[4]:--}
		printf '%s %s\n' "${BASH_REMATCH[2]}" "$meta"
		[[ -z ${BASH_REMATCH[1]} ]] || printf '%s %s\n' "${BASH_REMATCH[1]%, }" "$meta"
	done <<<"$1"
}

# _mailcure_subcommands TEXT COMMAND: the words after COMMAND in the
# usage lines of its --help ("status|list" counts as two).
_mailcure_subcommands() {
	local line word
	while IFS= read -r line; do
		[[ $line =~ \]\ $2\ ([a-z|]+)( |$) ]] || continue
		for word in ${BASH_REMATCH[1]//|/ }; do
			printf '%s\n' "$word"
		done
	done <<<"$1" | sort -u
}

# _mailcure_setting FILE NAME: the value of NAME in a settings file.
_mailcure_setting() {
	[[ -r $1 ]] || return 0
	sed -n "s/^$2[[:blank:]]*=[[:blank:]]*\\([^[:blank:]]*\\).*/\\1/p" "$1" | head -n 1
}

# _mailcure_dir BIN OPTION NAME WORDS...: the directory of OPTION on
# the line, else the setting NAME, else the default --help names.
_mailcure_dir() {
	local bin=$1 opt=$2 name=$3 i value= config=
	shift 3
	local -a w=("$@")
	for ((i = 0; i < ${#w[@]}; i++)); do
		case ${w[i]} in
		"$opt") value=${w[i + 1]:-} ;;
		"$opt"=*) value=${w[i]#*=} ;;
		--config) config=${w[i + 1]:-} ;;
		--config=*) config=${w[i]#*=} ;;
		esac
	done
	if [[ -z $value ]]; then
		local help
		_mailcure_help "$bin"
		help=$_mailcure_text
		if [[ -z $config && $help =~ settings\ file\ \(default\ ([^\)]+)\) ]]; then
			config=${BASH_REMATCH[1]}
		fi
		[[ -z $config ]] || value=$(_mailcure_setting "$config" "$name")
		if [[ -z $value && $help =~ $opt\ DIR\ +[^\(]*\(default\ ([^\)]+)\) ]]; then
			value=${BASH_REMATCH[1]}
		fi
	fi
	printf '%s\n' "$value"
}

# _mailcure_names DIR...: the entries of each DIR, not hidden.
_mailcure_names() {
	local d f
	for d in "$@"; do
		[[ -d $d && -r $d ]] || continue
		for f in "$d"/*; do
			[[ -e $f ]] && printf '%s\n' "${f##*/}"
		done
	done | sort -u
}

_mailcure() {
	local line=${COMP_LINE:0:COMP_POINT}
	local -a w
	read -r -a w <<<"$line"
	[[ $line == *[[:space:]] || ${#w[@]} -eq 0 ]] && w+=("")
	local cur=${w[-1]} bin=${w[0]}
	[[ $bin == */* ]] || bin=$(type -P "$bin" 2>/dev/null) || bin=mailcure
	[[ -x $bin ]] || return 0

	local ghelp chelp= command= sub= i
	_mailcure_help "$bin"
	ghelp=$_mailcure_text
	local -A takes=()
	local opt meta
	while read -r opt meta; do
		[[ $meta == - ]] || takes[$opt]=$meta
	done < <(_mailcure_options "$ghelp")

	# The command and its subcommand: the first words that are not
	# options or their values.
	local -a subs=()
	for ((i = 1; i < ${#w[@]} - 1; i++)); do
		case ${w[i]} in
		--) break ;;
		-*=*) continue ;;
		-*) [[ -n ${takes[${w[i]}]:-} && ${takes[${w[i]}]} != \[* ]] && ((i++)); continue ;;
		esac
		if [[ -z $command ]]; then
			command=${w[i]}
			_mailcure_help "$bin" "$command"
			chelp=$_mailcure_text
			while read -r opt meta; do
				[[ $meta == - ]] || takes[$opt]=$meta
			done < <(_mailcure_options "$chelp")
			mapfile -t subs < <(_mailcure_subcommands "$chelp" "$command")
		elif [[ -z $sub && ${#subs[@]} -gt 0 ]]; then
			sub=${w[i]}
		fi
	done

	# The value of an option: after it, or after "--opt=".
	local prev=${w[-2]:-} kind= value=$cur
	if [[ $cur == --*=* ]]; then
		kind=${takes[${cur%%=*}]:-}
		prev=${cur%%=*}
		value=${cur#*=}
	elif [[ -n $prev && -n ${takes[$prev]:-} && ${takes[$prev]} != \[* ]]; then
		kind=${takes[$prev]}
	fi
	local -a reply=()
	local state quarantine
	_mailcure_runs() {
		state=$(_mailcure_dir "$bin" --state-dir state_dir "${w[@]}")
		quarantine=$(_mailcure_dir "$bin" --quarantine quarantine "${w[@]}")
		_mailcure_names "$state/runs" "$quarantine/runs"
	}
	if [[ -n $kind ]]; then
		case $prev in
		--progress) reply=(auto always never) ;;
		--scan) reply=(parts whole) ;;
		esac
		if [[ ${#reply[@]} -eq 0 ]]; then
			case $kind in
			FILE | PATH) { compopt -o filenames 2>/dev/null || :; }; mapfile -t reply < <(compgen -f -- "$value") ;;
			DIR) { compopt -o filenames 2>/dev/null || :; }; mapfile -t reply < <(compgen -d -- "$value") ;;
			STORE)
				if [[ $value == *:* ]]; then
					compopt -o filenames 2>/dev/null || :
					mapfile -t reply < <(compgen -P "${value%%:*}:" -f -- "${value#*:}")
				else
					compopt -o nospace 2>/dev/null || :
					reply=(maildir: mbox: eml: dovecot:)
					local -a files
					mapfile -t files < <(compgen -f -- "$value")
					reply+=("${files[@]}")
				fi
				;;
			RUN | ID) mapfile -t reply < <(_mailcure_runs) ;;
			*) return 0 ;;
			esac
		fi
		if [[ $cur == --*=* ]]; then
			reply=("${reply[@]/#/${cur%%=*}=}")
		fi
	elif [[ $cur == -* ]]; then
		local -a opts=("${!takes[@]}")
		while read -r opt meta; do opts+=("$opt"); done < <(
			_mailcure_options "$ghelp"
			[[ -z $command ]] || _mailcure_options "$chelp")
		reply=("${opts[@]}")
	elif [[ -z $command ]]; then
		mapfile -t reply < <(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' <<<"$ghelp")
	elif [[ ${#subs[@]} -gt 0 && -z $sub ]]; then
		reply=("${subs[@]}")
	else
		case $command in
		report) mapfile -t reply < <(_mailcure_runs) ;;
		respond) [[ $prev == --resume ]] && mapfile -t reply < <(_mailcure_runs) ;;
		quarantine)
			case $sub in
			show | restore)
				quarantine=$(_mailcure_dir "$bin" --quarantine quarantine "${w[@]}")
				mapfile -t reply < <(_mailcure_names "$quarantine/entries")
				;;
			esac
			;;
		host) { compopt -o filenames 2>/dev/null || :; }; mapfile -t reply < <(compgen -f -- "$cur") ;;
		esac
	fi
	mapfile -t COMPREPLY < <(compgen -W "${reply[*]}" -- "$cur" 2>/dev/null |
		sort -u)
	# What readline replaces starts after the last word break in cur.
	local breaks=${COMP_WORDBREAKS//[^:=]/} trim=$cur
	if [[ -n $breaks && $cur == *["$breaks"]* ]]; then
		trim=${cur%"${cur##*["$breaks"]}"}
		COMPREPLY=("${COMPREPLY[@]#"$trim"}")
	fi
	return 0
}
complete -F _mailcure mailcure
